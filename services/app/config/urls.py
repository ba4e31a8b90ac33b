from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import path, re_path

from core import uploads, views

urlpatterns = [
    path("", views.todo_list, name="todo-list"),
    path("login/", auth_views.LoginView.as_view(template_name="core/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", views.healthz, name="healthz"),
    path("status/backups", views.backup_status, name="backup-status"),
    # The proxy asks here before it reads a request's body (its own /_session, internal).
    path("_session", views.session, name="session"),
    path("admin/", admin.site.urls),
]

# The proxy asks here for each upload it does not serve on its own: every one in a bucket, a
# private one on the volume (core.uploads). Before DEBUG's own media route, which asks no one.
media = settings.MEDIA_URL.lstrip("/")
if settings.MEDIA_STORAGE == "s3":
    urlpatterns.append(path(media + "<path:name>", views.media, name="media"))
else:
    urlpatterns.append(re_path(rf"^{media}(?P<name>{uploads.PRIVATE}.+)$", views.media, name="media"))

if settings.DEBUG:
    # Development only: with DEBUG off the proxy serves both, and Django serves neither.
    urlpatterns += staticfiles_urlpatterns()
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

if settings.DEBUG_TOOLBAR:
    from debug_toolbar.toolbar import debug_toolbar_urls

    urlpatterns += debug_toolbar_urls()
