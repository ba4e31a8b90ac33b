"""The test site's URLs for the workspace's own Django tests: the test app at "/", then the
project's."""

from django.urls import include, path

urlpatterns = [
    path("", include("journal.urls")),
    path("", include("config.urls")),
]
