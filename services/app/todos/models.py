from pathlib import PurePath

from django.conf import settings
from django.db import models

from ops.uploads import random_name


def attachment_path(instance, filename):
    """A random stored name under attachments/ (ops.uploads.random_name)."""
    return f"attachments/{random_name(filename)}"


class Todo(models.Model):
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    done = models.BooleanField(default=False)
    # Indexed: serving an upload from a bucket asks which row names it (ops.uploads).
    attachment = models.FileField(upload_to=attachment_path, blank=True, max_length=255, db_index=True)
    # The uploaded file's own name, for display only; the stored name is random.
    attachment_name = models.CharField(max_length=255, blank=True, editable=False)
    # Who added it; counts against that user's upload cap. Kept when the user is deleted.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, editable=False, on_delete=models.SET_NULL
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["done", "-created"]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        if self.attachment and not self.attachment._committed:
            self.attachment_name = PurePath(self.attachment.name).name
        elif not self.attachment:
            self.attachment_name = ""
        super().save(*args, **kwargs)
