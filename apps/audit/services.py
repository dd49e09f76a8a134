"""Writing the audit log: one ``record(...)`` call inside the transaction of the change it
describes (the event commits, or not, with the change). This app sits low in the layers
(pyproject.toml), so the services of keys, credits, billing and accounts call it directly.

``account_id`` is the user row whose data the event concerns: a personal account's user, or an
organisation's principal user; the actor is whoever did it (None: the system, e.g. a Celery
task or Stripe's webhook). ``before``/``after`` hold only the fields that changed, never a
secret."""

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.contrib.auth import get_user_model
from django.utils import timezone

from .client import request_ip
from .models import AuditEvent

_staff: ContextVar[bool] = ContextVar("audit_staff", default=False)
_muted: ContextVar[bool] = ContextVar("audit_muted", default=False)

STAFF_MARK = " (staff)"


@contextmanager
def staff_actions() -> Iterator[None]:
    """Events recorded inside are staff actions (the Django admin acting on a customer's
    account): their actor is labelled as staff."""
    token = _staff.set(True)
    try:
        yield
    finally:
        _staff.reset(token)


@contextmanager
def muted() -> Iterator[None]:
    """No events from the services called inside (the playground's own short-lived keys, which
    the keys page and the webhooks leave out too)."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


def _valid_ip(ip: str | None) -> str | None:
    if not ip:
        return None
    try:
        return str(ipaddress.ip_address(str(ip).strip()))
    except ValueError:
        return None


def _actor(actor) -> tuple[int | None, str]:
    """The actor's id and e-mail: ``actor`` is a user, a user id, or None (the system)."""
    if actor is None:
        return None, ""
    if isinstance(actor, int):
        email = get_user_model().objects.filter(pk=actor).values_list("email", flat=True).first()
        return actor, email or f"user {actor}"
    return actor.pk, actor.email


def set_fields(obj, fields) -> dict:
    """``obj``'s values of ``fields`` that are set (not None, empty or blank)."""
    values = {field: getattr(obj, field) for field in fields}
    return {field: value for field, value in values.items() if value not in (None, "", [])}


def changes(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the fields whose values differ, as (before, after)."""
    changed = [field for field in after if before.get(field) != after[field]]
    return {f: before.get(f) for f in changed}, {f: after[f] for f in changed}


def record(
    *,
    account_id: int,
    actor=None,
    action: str,
    target: str = "",
    before: dict | None = None,
    after: dict | None = None,
    ip: str | None = None,
    actor_label: str = "",
) -> AuditEvent | None:
    """Append one event. ``actor``: a user, a user id or None (the system; ``actor_label``
    may then name it, e.g. "Stripe"). Call it inside the transaction of the change."""
    if _muted.get():
        return None
    if ip is None:
        ip = request_ip()
    actor_id, label = _actor(actor)
    if actor_id is not None and _staff.get():
        label += STAFF_MARK
    return AuditEvent.objects.create(
        account_id=account_id,
        actor_id=actor_id,
        actor_label=(label or actor_label)[:300],
        action=action,
        target=str(target or "")[:200],
        before=before or None,
        after=after or None,
        ip=_valid_ip(ip),
        created_at=timezone.now(),
    )
