from datetime import timedelta

from django import forms
from django.utils import timezone

from .models import Todo

# Attachments one user may add in 24 hours; the next one gets 429.
UPLOADS_PER_USER_PER_DAY = 20


class TodoForm(forms.ModelForm):
    """A todo of the logged-in user who is its instance's owner."""

    class Meta:
        model = Todo
        fields = ["title", "description", "attachment"]

    def clean_attachment(self):
        attachment = self.cleaned_data["attachment"]
        limit = UPLOADS_PER_USER_PER_DAY
        if attachment and uploads_in_the_last_day(self.instance.owner) >= limit:
            # Refused before saving, so the file is never stored.
            raise forms.ValidationError(
                f"You have uploaded {limit} attachments in the last 24 hours, the limit. Try again later.",
                code="upload_limit",
            )
        return attachment


def uploads_in_the_last_day(owner) -> int:
    since = timezone.now() - timedelta(days=1)
    return Todo.objects.filter(owner=owner, created__gte=since).exclude(attachment="").count()
