from django.apps import AppConfig


class OpsConfig(AppConfig):
    """The workspace's own part of the site: health, status, the proxy's helpers, uploads'
    storage and serving, middleware, the release and backup commands. No models."""

    name = "ops"
