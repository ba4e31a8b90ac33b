from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.entries, name="entries"),
    path("", include("journal.visitors")),
]
