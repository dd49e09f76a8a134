"""The audit log: who did what to an account, and when. Append-only: rows are written once by
``apps.audit.services.audit_record`` and never changed or deleted (refused here by the ORM, by
the read-only admin, and by a database trigger: migrations/0002_append_only.py); only the
retention task removes rows older than ``AUDIT_RETENTION_DAYS``, by the one path the trigger
lets through (apps/audit/retention.py)."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class AppendOnlyError(Exception):
    """An attempt to change or delete an audit event."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit events cannot be changed.")

    def delete(self):
        raise AppendOnlyError("Audit events cannot be deleted.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyError("Audit events cannot be changed.")

    def update_or_create(self, defaults=None, create_defaults=None, **kwargs):
        raise AppendOnlyError("Audit events cannot be changed.")


class AuditEvent(models.Model):
    # The account the event concerns: a personal user, or an organisation's principal user
    # (the row that owns the credit account, keys and payments). PROTECT: the log outlives
    # nothing it describes (user rows are anonymised, never deleted, when an account closes).
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="audit_events"
    )
    # Who did it (empty: the system: a Celery task, Stripe's webhook). No database constraint
    # and nothing done on deletion: an UPDATE of the log to NULL it would be refused, and
    # ``actor_label`` keeps who it was.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(
        max_length=300, blank=True, help_text="the actor's e-mail at the time; staff marked"
    )
    action = models.CharField(max_length=64, help_text="a dotted code, e.g. key.revoked")
    target = models.CharField(max_length=200, blank=True, help_text="e.g. a key's masked id")
    before = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["account", "-created_at", "-id"], name="audit_account_recent"),
        ]

    def __str__(self):
        return f"{self.action} on {self.account_id} at {self.created_at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args, **kwargs):
        if not self._state.adding or kwargs.get("force_update") or kwargs.get("update_fields"):
            raise AppendOnlyError("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events cannot be deleted.")
