"""What visitors and other sites send to a site, none of them logged in: a contact form (with
Django's CSRF token, as a browser posts it), a webhook (`@csrf_exempt`, JSON, as a payment
provider sends one), a JSON API authenticated by a token instead of a session, and Django's
password reset. Self-contained: the daily-loop test copies it into an app made by `inv startapp`."""

import json

from django import forms
from django.contrib.auth import views as auth_views
from django.http import HttpResponse, JsonResponse
from django.template import engines
from django.urls import path, reverse_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

# The API's token: a fixed value, as this app is a test site's.
API_TOKEN = "reference-site-api-token"


# Inline, so that the module is all an app needs to serve it.
CONTACT_PAGE = engines["django"].from_string(
    '<form method="post">{% csrf_token %}{{ form.as_p }}<button type="submit">Send</button></form>'
)


class ContactForm(forms.Form):
    email = forms.EmailField()
    message = forms.CharField(widget=forms.Textarea, max_length=2000)


def contact(request):
    form = ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        return HttpResponse("Thank you for your message.\n", content_type="text/plain")
    return HttpResponse(CONTACT_PAGE.render({"form": form}, request), status=400 if form.errors else 200)


@csrf_exempt
@require_POST
def webhook(request):
    try:
        event = json.loads(request.body)["event"]
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": "a JSON object with an event"}, status=400)
    return JsonResponse({"received": event})


@csrf_exempt
@require_POST
def api_notes(request):
    if request.headers.get("Authorization") != f"Token {API_TOKEN}":
        return JsonResponse({"error": "a valid token"}, status=401)
    try:
        note = json.loads(request.body)
    except ValueError:
        return JsonResponse({"error": "JSON"}, status=400)
    return JsonResponse({"created": note}, status=201)


urlpatterns = [
    path("contact/", contact, name="contact"),
    path("webhook/", webhook, name="webhook"),
    path("api/notes/", api_notes, name="api-notes"),
    # Names of their own: the site routes Django's own password reset too (django.contrib.auth.urls).
    path(
        "password-reset/",
        auth_views.PasswordResetView.as_view(success_url=reverse_lazy("visitor_password_reset_sent")),
        name="visitor_password_reset",
    ),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="visitor_password_reset_sent"),
]
