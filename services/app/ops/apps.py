import procrastinate
from django.apps import AppConfig
from procrastinate.contrib.django import procrastinate_app
from procrastinate.contrib.django.apps import ProcrastinateConfig


class OpsConfig(AppConfig):
    """The workspace's own part of the site: health, status, the proxy's helpers, uploads'
    storage and serving, middleware, the release and backup commands, the background tasks'
    backend and worker, mail sent by the worker. No models."""

    name = "ops"


class QueueConfig(ProcrastinateConfig):
    """Procrastinate's app (the background tasks' queue, ops.tasks), made once: a test that changes
    INSTALLED_APPS readies every app again, and Procrastinate's would register its tasks twice."""

    def ready(self) -> None:
        if not isinstance(procrastinate_app.current_app, procrastinate.App):
            super().ready()
