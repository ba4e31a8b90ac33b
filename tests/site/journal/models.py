from django.conf import settings
from django.db import models

from ops.uploads import random_name


def attachment_path(instance, filename):
    return f"attachments/{random_name(filename)}"


class Entry(models.Model):
    title = models.CharField(max_length=200)
    # Indexed: serving an upload from a bucket asks which row names it (ops.uploads).
    attachment = models.FileField(upload_to=attachment_path, blank=True, max_length=255, db_index=True)
    # The uploaded file's own name, shown as the link (the stored one is random).
    attachment_name = models.CharField(max_length=255, blank=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, editable=False, on_delete=models.SET_NULL)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]
        verbose_name_plural = "entries"

    def __str__(self):
        return self.title

    def may_download(self, user) -> bool:
        """Who gets a private file of the entry (ops/uploads.py): its owner alone."""
        return user == self.owner
