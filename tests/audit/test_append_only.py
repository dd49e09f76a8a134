"""An audit event is written once and never changed or deleted: not through the ORM, not
through the admin, not by SQL on PostgreSQL (a trigger); only the retention task removes old
events, and only those."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from apps.audit import services as audit
from apps.audit.models import AppendOnlyError, AuditEvent
from apps.audit.retention import audit_prune
from apps.audit.triggers import delete_rows
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(owner):
    return audit.record(
        account_id=owner.pk,
        actor=owner,
        action="budget.changed",
        before={"monthly_budget": None},
        after={"monthly_budget": 5},
        ip="203.0.113.9",
    )


def test_an_event_keeps_who_what_and_where(event, owner):
    event = AuditEvent.objects.get(pk=event.pk)
    assert (event.account_id, event.actor_id, event.actor_label) == (
        owner.pk,
        owner.pk,
        "owner@example.com",
    )
    assert (event.action, event.before, event.after) == (
        "budget.changed",
        {"monthly_budget": None},
        {"monthly_budget": 5},
    )
    assert event.ip == "203.0.113.9"


def test_an_address_that_is_not_one_is_left_out(owner):
    assert audit.record(account_id=owner.pk, action="x.y", ip="unknown").ip is None


def test_the_orm_refuses_to_change_or_delete(event):
    event.target = "changed"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(target="changed")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.bulk_update([event], ["target"])
    assert AuditEvent.objects.get(pk=event.pk).target == ""


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditevent SET action = 'nothing.happened' WHERE id = %s",
        "UPDATE audit_auditevent SET actor_id = NULL WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ],
)
def test_the_database_refuses_sql_that_changes_or_deletes(event, sql):
    assert connection.vendor == "postgresql"
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [event.pk])
    row = AuditEvent.objects.filter(pk=event.pk).values_list("action", "actor_id").get()
    assert row == ("budget.changed", event.actor_id)


def test_the_permission_to_delete_ends_with_its_transaction(event, owner):
    with transaction.atomic():
        assert delete_rows([event.pk]) == 1
        # Later in the same transaction, the trigger refuses again.
        other = audit.record(account_id=owner.pk, action="budget.changed")
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
            cur.execute("DELETE FROM audit_auditevent WHERE id = %s", [other.pk])
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [other.pk])
    assert list(AuditEvent.objects.values_list("pk", flat=True)) == [other.pk]


def test_a_deleted_actor_leaves_the_events_and_their_label(owner):
    staff = UserFactory(email="helper@example.com", is_staff=True)
    with audit.staff_actions():
        made = audit.record(account_id=owner.pk, actor=staff.pk, action="credits.adjusted")
    staff_id = staff.pk
    staff.delete()
    made = AuditEvent.objects.get(pk=made.pk)
    assert made.actor_id == staff_id and made.actor_label == "helper@example.com (staff)"


def test_the_admin_only_reads(event, client):
    staff = UserFactory(is_staff=True, is_superuser=True, verified=True)
    client.force_login(staff)
    listing = client.get(reverse("admin:audit_auditevent_changelist"))
    assert listing.status_code == 200 and "budget.changed" in listing.content.decode()
    assert 'name="action"' not in listing.content.decode()  # no bulk actions (delete)
    change_url = reverse("admin:audit_auditevent_change", args=[event.pk])
    page = client.get(change_url)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert client.post(change_url, {"action": "x.y", "target": "t"}).status_code == 403
    delete_url = reverse("admin:audit_auditevent_delete", args=[event.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    bulk = client.post(
        reverse("admin:audit_auditevent_changelist"),
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    assert AuditEvent.objects.filter(pk=event.pk, action="budget.changed").exists()


def _aged(owner, days: int) -> AuditEvent:
    """An event created ``days`` ago (through the one insert the log allows)."""
    made = AuditEvent(
        account_id=owner.pk,
        action="settings.changed",
        created_at=timezone.now() - timedelta(days=days),
    )
    made.save(force_insert=True)
    return made


def test_retention_deletes_only_events_older_than_the_setting(owner, settings):
    old = [_aged(owner, 400), _aged(owner, 91)]
    young = [_aged(owner, 89), _aged(owner, 0)]
    settings.AUDIT_RETENTION_DAYS = None
    assert audit_prune() == 0  # kept forever by default
    assert AuditEvent.objects.count() == 4
    settings.AUDIT_RETENTION_DAYS = 90
    assert audit_prune(batch=1) == 2
    assert set(AuditEvent.objects.values_list("pk", flat=True)) == {e.pk for e in young}
    assert not AuditEvent.objects.filter(pk__in=[e.pk for e in old]).exists()
    # And the trigger refuses deletions again afterwards.
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [young[0].pk])


def test_the_retention_task_is_on_the_beat(settings):
    from apps.audit.tasks import prune

    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert prune.name in tasks
