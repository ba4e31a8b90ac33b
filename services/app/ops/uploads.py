"""Which uploads the site serves, and to whom (docs/developing.md, "Uploads").

An upload is served when a row of the site names it, in a FileField or ImageField of any model:
nothing else the storage holds (a restore's staging copy, the file of a deleted row) ever is.
A file under PRIVATE is never served by the proxy on its own: the app first asks the row's
`may_download(user)`, or, for a model without one, whether the user is logged in."""

import re
import uuid
from pathlib import PurePath

from django.apps import apps
from django.db import models
from django.utils.deconstruct import deconstructible

PRIVATE = "private/"


def random_name(filename: str) -> str:
    """A stored name that cannot collide, nor be guessed from the uploaded one. Only a short,
    plain extension is kept, so the proxy sends the right content type."""
    suffix = PurePath(filename).suffix.lower()
    if not re.fullmatch(r"\.[a-z0-9]{1,10}", suffix):
        suffix = ""
    return f"{uuid.uuid4().hex}{suffix}"


@deconstructible
class Private:
    """`upload_to=Private("invoices")`: the model's files are served only to whom its
    may_download(user) allows (without one: to logged-in users), on the volume as in a bucket."""

    def __init__(self, folder: str):
        self.folder = folder.strip("/")

    def __call__(self, instance, filename: str) -> str:
        return f"{PRIVATE}{self.folder}/{random_name(filename)}"

    # Equal when the folder is: makemigrations sees no change in an unchanged field.
    def __eq__(self, other):
        return isinstance(other, Private) and other.folder == self.folder

    def __hash__(self):
        return hash(self.folder)


def is_private(name: str) -> bool:
    return name.startswith(PRIVATE)


def row_naming(name: str) -> models.Model | None:
    """The first row of any model whose file field holds NAME; None when none does. A query per
    file field of the project: index a field whose files a bucket serves (db_index=True)."""
    for model in apps.get_models():
        for field in model._meta.concrete_fields:  # noqa: SLF001 (Django's documented API)
            if isinstance(field, models.FileField):
                row = model._default_manager.filter(**{field.attname: name}).first()  # noqa: SLF001
                if row is not None:
                    return row
    return None


def may_download(row: models.Model, user) -> bool:
    """Whether USER gets the private file of ROW: the model's own rule, else a login."""
    rule = getattr(row, "may_download", None)
    return bool(rule(user)) if rule is not None else user.is_authenticated
