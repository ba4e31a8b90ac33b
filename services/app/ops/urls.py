from django.conf import settings
from django.urls import path, re_path

from . import uploads, views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("status/backups", views.backup_status, name="backup-status"),
    # The proxy asks here before it reads a request's body, with PROXY_WRITES_NEED_LOGIN=true.
    path("_session", views.session, name="session"),
]

# The proxy asks here for each upload it does not serve on its own: every one in a bucket, a
# private one on the volume (ops.uploads).
media = settings.MEDIA_URL.lstrip("/")
if settings.MEDIA_STORAGE == "s3":
    urlpatterns.append(path(media + "<path:name>", views.media, name="media"))
else:
    urlpatterns.append(re_path(rf"^{media}(?P<name>{uploads.PRIVATE}.+)$", views.media, name="media"))
