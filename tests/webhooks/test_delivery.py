"""Delivery: retries with backoff, in order per endpoint, exactly once by webhook-id, one sender
per endpoint, and an endpoint turned off (with an e-mail) after a day of failures. Time is
driven with time_machine and the beat task is called as Celery beat would call it; the receiver
is a real HTTP server on loopback."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from apps.keys import services as keys
from apps.webhooks import selectors, services, tasks
from apps.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests.factories import UserFactory
from tests.threads import run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)
# Later than the endpoints the tests create (an endpoint gets the events that happen after it).
START = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)


def beat(clock, seconds: int, every: int = 5) -> None:
    """Let ``seconds`` pass, with Celery beat's deliver_due run every ``every`` seconds."""
    for _ in range(seconds // every):
        clock.shift(timedelta(seconds=every))
        tasks.deliver_due.delay()


def test_a_receiver_down_for_ten_minutes_gets_every_event_afterwards_in_order_once(
    owner, receiver, endpoint_for
):
    endpoint, _ = endpoint_for(owner)
    with time_machine.travel(START, tick=False) as clock:
        receiver.stop()  # down: connections refused
        created = []
        for minute in range(10):  # an event a minute while it is down
            key, _ = keys.api_key_create(user_id=owner.pk, name=f"key {minute}")
            created.append(key.pk)
            beat(clock, 60)
        assert receiver.received == []
        head = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("id").first()
        assert head.attempts >= 4 and head.status == "pending"
        # The ones behind it were never tried: they wait for it.
        assert WebhookAttempt.objects.exclude(delivery=head).count() == 0
        receiver.start()  # back, on the same port, after ten minutes
        beat(clock, 30 * 60, every=30)
    accepted = receiver.accepted()
    assert [r.payload["data"]["key"]["id"] for r in accepted] == created  # in order
    ids = [r.id for r in accepted]
    assert len(ids) == len(set(ids)) == 10  # each once by webhook-id
    assert set(ids) == set(WebhookDelivery.objects.values_list("message_id", flat=True))
    assert all(r.verified for r in receiver.received)
    assert not WebhookDelivery.objects.exclude(status="succeeded").exists()
    endpoint.refresh_from_db()
    assert endpoint.enabled


def test_retries_keep_their_webhook_id_and_body_and_the_receiver_dedupes_them(
    owner, receiver, endpoint_for
):
    """A receiver that processed a request but answered 503 gets it again, with the same
    webhook-id and body: deduplicating by webhook-id, it has each event exactly once."""
    endpoint_for(owner)
    with time_machine.travel(START, tick=False) as clock:
        receiver.behaviour.status = 503
        first, _ = keys.api_key_create(user_id=owner.pk, name="one")
        second, _ = keys.api_key_create(user_id=owner.pk, name="two")
        beat(clock, 40)  # the first delivery: at once, +5 s, +30 s
        assert len(receiver.received) == 3
        assert len({r.id for r in receiver.received}) == 1
        assert len({r.body for r in receiver.received}) == 1
        assert len({r.headers["webhook-timestamp"] for r in receiver.received}) == 3
        receiver.behaviour.status = 204
        beat(clock, 180)
    seen = {}
    for got in receiver.received:  # what a receiver deduplicating by webhook-id keeps
        seen.setdefault(got.id, got.payload)
    assert [p["data"]["key"]["id"] for p in seen.values()] == [first.pk, second.pk]
    assert [r.payload["data"]["key"]["id"] for r in receiver.accepted()] == [first.pk, second.pk]


def test_the_retry_schedule_backs_off_and_gives_up_after_a_day(
    owner, receiver, endpoint_for, settings
):
    endpoint, _ = endpoint_for(owner, path="/down")
    other, _ = endpoint_for(owner, path="/fine")
    with time_machine.travel(START, tick=False) as clock:
        receiver.behaviour.status = 500
        services.webhook_test_send(user_id=owner.pk, endpoint_id=endpoint.pk)
        later = services.webhook_test_send(user_id=owner.pk, endpoint_id=endpoint.pk)
        delivery = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("id").first()
        moments = []
        for _ in range(40):
            delivery.refresh_from_db()
            if delivery.status != "pending":
                break
            clock.move_to(delivery.next_attempt_at)
            services.endpoint_deliver(endpoint_id=endpoint.pk)
            moments.append(delivery.next_attempt_at)
        delivery.refresh_from_db()
    gaps = [int((b - a).total_seconds()) for a, b in zip([START, *moments], moments, strict=False)]
    assert gaps[:10] == [5, 30, 120, 300, 900, 1800, 3600, 7200, 14400, 28800]
    assert sum(gaps) == settings.WEBHOOK_RETRY_WINDOW  # the last try at the end of the day
    assert delivery.status == "failed" and delivery.attempts == len(gaps) + 1
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_reason == "failing"
    later.refresh_from_db()
    assert later.status == "cancelled" and later.attempts == 0  # dropped, never sent
    [email] = mail.outbox
    assert email.to == [owner.email] and "turned off" in email.subject
    assert endpoint.url in email.body and f"/account/webhooks/{endpoint.pk}/" in email.body
    # Off: new events are not recorded for it; the other endpoint is untouched.
    receiver.behaviour.status = 200
    keys.api_key_create(user_id=owner.pk, name="after")
    assert not WebhookDelivery.objects.filter(endpoint=endpoint, status="pending").exists()
    other.refresh_from_db()
    assert other.enabled
    assert [r.path for r in receiver.accepted()] == ["/fine"]


def test_a_later_event_waits_while_an_earlier_one_waits_for_its_retry(
    owner, receiver, endpoint_for
):
    endpoint, _ = endpoint_for(owner)
    with time_machine.travel(START, tick=False) as clock:
        receiver.behaviour.status = 500
        services.webhook_test_send(user_id=owner.pk, endpoint_id=endpoint.pk)
        receiver.behaviour.status = 200
        keys.api_key_create(user_id=owner.pk, name="later")
        assert len(receiver.received) == 1  # the key's event was not sent past the test event
        assert selectors.endpoints_due() == []  # nothing due before the retry
        clock.shift(timedelta(seconds=5))
        assert selectors.endpoints_due() == [endpoint.pk]
        assert tasks.deliver_due.delay().get() == 1
    assert [r.payload["type"] for r in receiver.received] == [
        "webhook.test",
        "webhook.test",
        "key.created",
    ]


def test_each_endpoint_has_its_own_order_and_its_own_ids(owner, receiver, endpoint_for):
    endpoint_for(owner, path="/a")
    endpoint_for(owner, path="/b", events=["key.revoked"])
    key, _ = keys.api_key_create(user_id=owner.pk, name="k")
    keys.api_key_revoke(user_id=owner.pk, key_id=key.pk)
    a, b = receiver.accepted("/a"), receiver.accepted("/b")
    assert [r.payload["type"] for r in a] == ["key.created", "key.revoked"]
    assert [r.payload["type"] for r in b] == ["key.revoked"]
    assert a[1].body == b[0].body and a[1].id != b[0].id  # one event, two deliveries
    assert WebhookEvent.objects.count() == 2


def test_one_sender_per_endpoint_whatever_runs_at_once(owner, receiver, endpoint_for):
    endpoint, _ = endpoint_for(owner)
    receiver.stop()
    for n in range(5):
        keys.api_key_create(user_id=owner.pk, name=f"k{n}")
    WebhookDelivery.objects.update(next_attempt_at=datetime(2000, 1, 1, tzinfo=UTC))
    receiver.start()
    receiver.behaviour.delay = 0.05  # long enough for the senders to overlap
    results = run_concurrently(lambda i: services.endpoint_deliver(endpoint_id=endpoint.pk), 4)
    assert sorted(results, reverse=True)[0] == 5 and sum(results) == 5
    ids = [r.id for r in receiver.received]
    assert len(ids) == len(set(ids)) == 5
    endpoint.refresh_from_db()
    assert endpoint.lease_token is None  # let go


def test_an_event_commits_with_its_change_or_not_at_all(owner, receiver, endpoint_for):
    from django.db import transaction

    endpoint_for(owner)
    with pytest.raises(RuntimeError), transaction.atomic():
        keys.api_key_create(user_id=owner.pk, name="rolled back")
        raise RuntimeError("the caller's transaction fails")
    assert not WebhookEvent.objects.exists() and receiver.received == []


def test_turning_an_endpoint_off_drops_what_waits_and_nothing_is_sent(
    owner, receiver, endpoint_for
):
    endpoint, _ = endpoint_for(owner)
    receiver.stop()
    keys.api_key_create(user_id=owner.pk, name="k")
    services.endpoint_enable(user_id=owner.pk, endpoint_id=endpoint.pk, enabled=False)
    assert WebhookDelivery.objects.get().status == "cancelled"
    receiver.start()
    WebhookDelivery.objects.update(next_attempt_at=datetime(2000, 1, 1, tzinfo=UTC))
    assert tasks.deliver_due.delay().get() == 0
    assert receiver.received == []
    with pytest.raises(services.EndpointDisabled):
        services.webhook_test_send(user_id=owner.pk, endpoint_id=endpoint.pk)


def test_old_events_and_their_log_are_pruned(owner, receiver, endpoint_for, settings):
    endpoint, _ = endpoint_for(owner)
    with time_machine.travel(START, tick=False) as clock:
        services.webhook_test_send(user_id=owner.pk, endpoint_id=endpoint.pk)
        receiver.stop()
        services.webhook_test_send(user_id=owner.pk, endpoint_id=endpoint.pk)  # pending
        clock.shift(timedelta(days=settings.WEBHOOK_LOG_DAYS, seconds=1))
        assert tasks.prune.delay().get() == 1
    assert WebhookEvent.objects.count() == 1
    assert WebhookAttempt.objects.count() == 1  # the pending one's attempt stays


def test_another_users_events_never_reach_my_endpoint(owner, receiver, endpoint_for):
    endpoint_for(owner)
    someone = UserFactory()
    keys.api_key_create(user_id=someone.pk, name="theirs")
    assert receiver.received == [] and not WebhookEvent.objects.exists()
    assert WebhookEndpoint.objects.get().user_id == owner.pk
