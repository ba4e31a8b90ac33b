import logging

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpResponseForbidden, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .models import Entry
from .tasks import note

logger = logging.getLogger(__name__)


class EntryForm(forms.ModelForm):
    class Meta:
        model = Entry
        fields = ["title", "attachment"]


def entries(request):
    """The entries, with the add form for a logged-in user (302 when stored, 400 when invalid)
    and the login form for a visitor, whose POST is refused."""
    form, status = EntryForm(), 200
    if request.method == "POST":
        if not request.user.is_authenticated:
            return HttpResponseForbidden("Log in to write.\n", content_type="text/plain")
        named = request.FILES.get("attachment")
        entry = Entry(owner=request.user, attachment_name=named.name if named else "")
        form = EntryForm(request.POST, request.FILES, instance=entry)
        if form.is_valid():
            form.save()
            if request.POST.get("then") == "note":
                # A task in the worker, enqueued with the write (the release tests count them).
                note.enqueue(f"{entry.title}: noted")
            return redirect("entries")
        status = 400
    context = {"entries": Entry.objects.all(), "form": form, "login_form": AuthenticationForm()}
    return render(request, "journal/entries.html", context, status=status)


@csrf_exempt
@require_POST
def enqueue_note(request):
    """A task enqueued by a request, for the request id's test: 202 with the task's id."""
    result = note.enqueue(request.POST["title"])
    logger.info("Enqueued task %s", result.id)
    return JsonResponse({"task": result.id}, status=202)


@csrf_exempt
def broken(request):
    """A page with a bug, for the error reports' test: it raises, holding what was posted."""
    password = request.POST.get("password", "")
    raise RuntimeError(f"a bug in the site ({len(password)} characters posted)")
