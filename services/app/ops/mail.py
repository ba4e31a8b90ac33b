"""Mail sent by the worker: Django's EMAIL_BACKEND hands each message to the task `deliver`, which
sends it with EMAIL_DELIVERY_BACKEND (SMTP, django-anymail's API, the console). A page that sends
mail (send_mail, the password reset, the error mails to ADMINS) does not wait on the mail server,
and a mail the server refuses for a while is tried again (ops.tasks)."""

import base64
from email.mime.base import MIMEBase

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django_tasks import task


class QueuedEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        for message in email_messages:
            deliver.enqueue(to_dict(message))
        return len(email_messages)


@task()
def deliver(message: dict) -> None:
    connection = get_connection(settings.EMAIL_DELIVERY_BACKEND, fail_silently=False)
    connection.send_messages([from_dict(message)])


def to_dict(message) -> dict:
    """The message as a task's argument (JSON): its fields, attachments in base64."""
    return {
        "subject": str(message.subject),
        "body": str(message.body),
        "from_email": message.from_email,
        "to": list(message.to),
        "cc": list(message.cc),
        "bcc": list(message.bcc),
        "reply_to": list(message.reply_to),
        "headers": dict(message.extra_headers),
        "content_subtype": message.content_subtype,
        "alternatives": [[str(content), mimetype] for content, mimetype in getattr(message, "alternatives", [])],
        "attachments": [attachment(item) for item in message.attachments],
    }


def attachment(item) -> list:
    if isinstance(item, MIMEBase):
        filename, content, mimetype = item.get_filename(), item.get_payload(decode=True), item.get_content_type()
    else:
        filename, content, mimetype = item
    data = content.encode() if isinstance(content, str) else content
    return [filename, base64.b64encode(data).decode(), mimetype]


def from_dict(fields: dict) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=fields["subject"],
        body=fields["body"],
        from_email=fields["from_email"],
        to=fields["to"],
        cc=fields["cc"],
        bcc=fields["bcc"],
        reply_to=fields["reply_to"],
        headers=fields["headers"],
        alternatives=[tuple(alternative) for alternative in fields["alternatives"]],
    )
    message.content_subtype = fields["content_subtype"]
    for filename, data, mimetype in fields["attachments"]:
        message.attach(filename, base64.b64decode(data), mimetype)
    return message
