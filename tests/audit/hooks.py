"""What the audit tests beside each app's own tests share: the owner's browser from a known
address, and the one event a change wrote."""

from django.test import Client

from apps.audit.models import AuditEvent

IP = "198.51.100.7"


def owner_browser(owner) -> Client:
    """The owner's browser, from a known address."""
    client = Client(REMOTE_ADDR=IP)
    client.force_login(owner)
    return client


def only_event(**filters) -> AuditEvent:
    events = list(AuditEvent.objects.filter(**filters))
    assert len(events) == 1, [(e.action, e.before, e.after) for e in events]
    return events[0]
