import uuid

from django.db import models


class Installation(models.Model):
    """This database's identity: one row, created by the migration that makes the table, so a
    database re-created from scratch is another installation and a restored backup is the same
    one. What a process writes outside the database (the gateway's settlement journal) is
    stamped with it, and only replayed into the database it belongs to."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"installation {self.id}"
