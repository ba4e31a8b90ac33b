from django.contrib import admin

from .models import Todo


@admin.register(Todo)
class TodoAdmin(admin.ModelAdmin):
    list_display = ["title", "done", "attachment_name", "created", "updated"]
    list_filter = ["done", "created"]
    search_fields = ["title", "description"]
    readonly_fields = ["attachment_name", "created", "updated"]
