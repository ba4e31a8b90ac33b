from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.entries, name="entries"),
    path("broken/", views.broken),
    path("tasks/note/", views.enqueue_note),
    path("", include("journal.visitors")),
]
