"""Each event, emitted by the real service that makes the change and delivered to a verifying
receiver on loopback: keys (created, rotated, revoked, expired), the low balance and the budget
levels, payments and refunds through Stripe's webhook (the stand-in), a failed auto top-up."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from apps.accounts.services import user_delete
from apps.billing import services as billing
from apps.billing.models import Payment
from apps.console.services import playground_key_mint
from apps.core.money import MICRO
from apps.credits import services as credits
from apps.credits.models import Account
from apps.keys import services as keys
from apps.keys.tasks import notify_expired_keys
from apps.webhooks.models import WebhookEndpoint, WebhookEvent
from tests.billing import stripe_standin
from tests.billing.test_auto_topup import save_card
from tests.billing.test_auto_topup import spend as spend_concurrently
from tests.billing.webhooks import event
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def got(receiver, kind=None):
    """The payloads the receiver verified and accepted, of ``kind`` when given."""
    payloads = [r.payload for r in receiver.accepted()]
    return [p for p in payloads if kind is None or p["type"] == kind]


def spend(account, amount, ref):
    credits.credits_hold(account_id=account.pk, amount=amount, reference=ref)
    credits.credits_settle(reference=ref, amount=amount)


# --- keys ---------------------------------------------------------------------------------------


def test_key_created_rotated_and_revoked(owner, receiver, endpoint_for):
    endpoint_for(owner)
    key, _ = keys.api_key_create(user_id=owner.pk, name="laptop")
    successor, _ = keys.api_key_rotate(user_id=owner.pk, key_id=key.pk, grace_seconds=3600)
    keys.api_key_revoke(user_id=owner.pk, key_id=successor.pk)
    keys.api_key_revoke(user_id=owner.pk, key_id=successor.pk)  # already revoked: no event
    payloads = got(receiver)
    assert [p["type"] for p in payloads] == [
        "key.created",
        "key.rotated",
        "key.created",
        "key.revoked",
    ]
    created, rotated, created_again, revoked = (p["data"] for p in payloads)
    assert created["key"]["id"] == key.pk and created["key"]["name"] == "laptop"
    assert created["key"]["masked"] == key.masked and created["rotated_from"] is None
    assert "sk-live-" in created["key"]["masked"] and len(created["key"]["masked"]) < 20
    assert rotated["key"]["id"] == key.pk and rotated["successor"]["id"] == successor.pk
    assert rotated["key"]["expires_at"].endswith("Z")  # the end of the grace period
    assert created_again["key"]["id"] == successor.pk and created_again["rotated_from"] == key.pk
    assert revoked["key"]["id"] == successor.pk and revoked["key"]["revoked_at"]


def test_key_expired_once_when_its_time_comes(owner, receiver, endpoint_for):
    endpoint_for(owner)
    start = datetime.now(UTC) + timedelta(minutes=1)
    with time_machine.travel(start, tick=False) as clock:
        key, _ = keys.api_key_create(
            user_id=owner.pk, name="short", expires_at=start + timedelta(hours=1)
        )
        gone, _ = keys.api_key_create(
            user_id=owner.pk, name="gone", expires_at=start + timedelta(hours=1)
        )
        keys.api_key_revoke(user_id=owner.pk, key_id=gone.pk)  # revoked before: never expires
        notify_expired_keys.delay()
        assert got(receiver, "key.expired") == []
        clock.shift(timedelta(hours=1, seconds=30))
        notify_expired_keys.delay()
        notify_expired_keys.delay()  # the beat runs again: nothing new
    [expired] = got(receiver, "key.expired")
    assert expired["data"]["key"]["id"] == key.pk
    assert expired["timestamp"] == expired["data"]["key"]["expires_at"]


def test_the_playgrounds_own_keys_send_nothing(owner, receiver, endpoint_for):
    endpoint_for(owner)
    credits.credits_grant_signup(user_id=owner.pk)
    playground_key_mint(user_id=owner.pk)
    playground_key_mint(user_id=owner.pk)  # the first one revoked, a second minted
    assert not WebhookEvent.objects.exists() and receiver.received == []


def test_only_subscribed_endpoints_that_are_on_get_an_event(owner, receiver, endpoint_for):
    endpoint_for(owner, path="/created", events=["key.created"])
    endpoint_for(owner, path="/revoked", events=["key.revoked"])
    off, _ = endpoint_for(owner, path="/off")
    WebhookEndpoint.objects.filter(pk=off.pk).update(enabled=False)
    key, _ = keys.api_key_create(user_id=owner.pk, name="k")
    keys.api_key_revoke(user_id=owner.pk, key_id=key.pk)
    assert [r.path for r in receiver.accepted()] == ["/created", "/revoked"]


# --- money --------------------------------------------------------------------------------------


def test_balance_low_once_until_back_above(owner, receiver, endpoint_for):
    endpoint_for(owner)
    credits.credits_grant_signup(user_id=owner.pk)
    credits.credits_adjust(user_id=owner.pk, amount=-460 * MICRO, reason="spend", actor_id=None)
    assert billing.low_balance_notify() == 1
    assert billing.low_balance_notify() == 0
    [low] = got(receiver, "balance.low")
    assert low["data"] == {"balance": 40.0, "threshold": 50.0}


def test_budget_threshold_at_50_80_and_100_percent_each_once(owner, receiver, endpoint_for):
    endpoint_for(owner, events=["budget.threshold"])
    credits.credits_grant_signup(user_id=owner.pk)
    credits.credits_budget_set(user_id=owner.pk, budget=10 * MICRO)
    account = Account.objects.get(user=owner)
    spend(account, 5 * MICRO, "a")
    billing.budget_alerts_send()
    spend(account, 4 * MICRO, "b")
    billing.budget_alerts_send()
    spend(account, 1 * MICRO, "c")
    billing.budget_alerts_send()
    billing.budget_alerts_send()
    levels = [p["data"]["level"] for p in got(receiver, "budget.threshold")]
    assert levels == [50, 80, 100]
    last = got(receiver, "budget.threshold")[-1]["data"]
    assert last["monthly_budget"] == 10.0 and last["month_spent"] == 10.0
    assert last["month"] == datetime.now(UTC).strftime("%Y-%m")


def checkout_paid(client, deliver):
    response = client.post(reverse("billing:checkout"), {"amount": "10"})
    assert response.status_code == 303
    payment = Payment.objects.latest("id")
    session = stripe_standin.mark_paid(payment.checkout_session_id)
    deliver(event("checkout.session.completed", session))
    deliver(event("checkout.session.completed", session))  # Stripe delivers again
    payment.refresh_from_db()
    return payment


def test_payment_succeeded_and_refunded_through_stripes_webhook(
    owner, owner_client, stripe_on, deliver, receiver, endpoint_for
):
    endpoint_for(owner, events=["payment.succeeded", "payment.refunded"])
    payment = checkout_paid(owner_client, deliver)
    [paid] = got(receiver, "payment.succeeded")
    assert paid["data"]["payment"] == {
        "id": payment.pk,
        "amount_cents": 1000,
        "currency": "usd",
        "credits": 1000.0,
        "automatic": False,
        "paid_at": paid["data"]["payment"]["paid_at"],
    }
    refunds = [{"id": "re_1", "amount": 300, "status": "succeeded"}]
    charge = {
        "id": "ch_1",
        "object": "charge",
        "payment_intent": payment.payment_intent_id,
        "amount": 1000,
        "amount_refunded": 300,
        "refunds": {"object": "list", "data": refunds},
    }
    deliver(event("charge.refunded", charge))
    deliver(event("charge.refunded", charge))  # again: nothing new
    refunds.append({"id": "re_2", "amount": 200, "status": "succeeded"})
    deliver(event("charge.refunded", {**charge, "amount_refunded": 500}))
    first, second = (p["data"] for p in got(receiver, "payment.refunded"))
    assert first["refund"] == {"amount_cents": 300, "credits": 300.0}
    assert first["credits_refunded"] == 300.0
    assert second["refund"] == {"amount_cents": 200, "credits": 200.0}
    assert second["credits_refunded"] == 500.0 and second["payment"]["id"] == payment.pk


def test_auto_top_up_failed_and_succeeded(stripe_on, receiver, endpoint_for):
    user = UserFactory(verified=True)
    credits.credits_grant(user_id=user.pk, amount=150 * MICRO, kind="topup", reference="t")
    endpoint_for(user, events=["auto_topup.failed", "payment.succeeded"])
    client = Client()
    client.force_login(user)
    save_card(client, "pm_card_chargeDeclined")
    form = {"auto-enabled": "on", "auto-threshold": "100", "auto-dollars": "20"}
    assert client.post(reverse("billing:auto_topup"), form).status_code == 302
    spend_concurrently(user, 60)
    attempt = billing.auto_topup_run(user_id=user.pk)
    assert attempt.status == "declined"
    [failed] = got(receiver, "auto_topup.failed")
    assert failed["data"]["attempt"]["id"] == attempt.pk
    assert failed["data"]["attempt"]["amount_cents"] == 2000
    assert failed["data"]["attempt"]["status"] == "declined"
    assert "declined" in failed["data"]["attempt"]["error"]
    assert failed["data"]["attempt"]["balance"] == 90.0
    assert failed["data"]["auto_topup_enabled"] is True
    save_card(client)  # a good card: the next run charges it
    assert client.post(reverse("billing:auto_topup"), form).status_code == 302
    assert billing.auto_topup_run(user_id=user.pk).status == "succeeded"
    [paid] = got(receiver, "payment.succeeded")
    assert paid["data"]["payment"]["automatic"] is True
    assert paid["data"]["payment"]["amount_cents"] == 2000


def test_deleting_the_account_deletes_its_endpoints_and_events(owner, receiver, endpoint_for):
    endpoint_for(owner)
    keys.api_key_create(user_id=owner.pk, name="k")
    user_delete(user_id=owner.pk)
    assert not WebhookEndpoint.objects.exists() and not WebhookEvent.objects.exists()
    assert len(receiver.received) == 1  # the key's creation; nothing about the deletion
