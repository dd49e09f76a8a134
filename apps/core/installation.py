"""The identity of the database this process is connected to (see ``Installation``)."""

import hashlib

from django.conf import settings
from django.db import connection


def installation_identity() -> str:
    """16 hex characters naming this database: its installation id (created once, by a
    migration) and its name, hashed. The same after a restart or a restore; different for a
    database dropped and created again."""
    from .models import Installation

    row = Installation.objects.order_by("created_at").values_list("id", flat=True).first()
    if row is None:  # a database migrated before the row's migration ran in it
        row = Installation.objects.create().id
    name = str(settings.DATABASES["default"].get("NAME") or connection.vendor)
    return hashlib.sha256(f"{row}:{name}".encode()).hexdigest()[:16]
