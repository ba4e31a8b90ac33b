from django.contrib import admin

from .models import Todo


@admin.register(Todo)
class TodoAdmin(admin.ModelAdmin):
    list_display = ["title", "done", "attachment_name", "owner", "created", "updated"]
    list_filter = ["done", "created"]
    search_fields = ["title", "description"]
    readonly_fields = ["attachment_name", "owner", "created", "updated"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.owner = request.user
        super().save_model(request, obj, form, change)
