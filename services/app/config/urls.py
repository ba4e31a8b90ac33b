from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import include, path
from django.views.generic import TemplateView

urlpatterns = [
    # The workspace's own: /healthz, /status/backups, the proxy's helpers, uploads it does not
    # serve on its own. Before DEBUG's own media route, which asks no one.
    path("", include("ops.urls")),
    # Django's own: login/, logout/, password_change/, and password_reset/, whose mail the
    # worker sends.
    path("", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    # The example (docs/developing.md says how to remove it).
    path("", include("todos.urls")),
    # The home page: "/" where no app above takes it.
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
]

if settings.DEBUG:
    # Development only: with DEBUG off the proxy serves both, and Django serves neither.
    urlpatterns += staticfiles_urlpatterns()
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

if settings.DEBUG_TOOLBAR:
    from debug_toolbar.toolbar import debug_toolbar_urls

    urlpatterns += debug_toolbar_urls()
