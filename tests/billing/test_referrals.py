"""Referrals through their public entry points: the invite link on the billing page, sign-up
through it, paid top-ups through the Stripe stand-in's signed webhook, refunds and disputes, the
admin's suspension."""

import datetime
import re

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.billing.models import Payment, Referral, ReferralCommission, Referrer
from apps.billing.referrals import add_months, email_mask, referral_tie
from apps.core.money import MICRO
from apps.credits.models import LedgerEntry
from apps.credits.selectors import ledger_problems

from . import stripe_standin
from .webhooks import event

pytestmark = pytest.mark.django_db
BILLING = reverse("billing:index")
PASSWORD = "a-long-and-unusual-passphrase"


def invite_path(owner_client) -> str:
    page = owner_client.get(BILLING).content.decode()
    link = re.search(r'value="https?://[^/"]+(/invite/[a-z0-9]+/)" data-testid="invite-link"', page)
    assert link, page
    return link.group(1)


def sign_up_through(path: str, email: str) -> tuple[Client, User]:
    visitor = Client()
    response = visitor.get(path)
    assert response.status_code == 302 and response["Location"] == reverse("account_signup")
    response = visitor.post(
        reverse("account_signup"), {"email": email, "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302, response.content
    user = User.objects.get(email=email)
    visitor.force_login(user)
    return visitor, user


def ledger_clean():
    assert ledger_problems() == []
    call_command("check_ledger")


def referral_entries(user) -> list[tuple[int, str]]:
    return list(
        LedgerEntry.objects.filter(account__user=user, kind="referral")
        .order_by("id")
        .values_list("amount", "reference")
    )


def earned(user) -> int:
    return sum(amount for amount, _ in referral_entries(user))


def pay(invitee_client, deliver, dollars="10", twice=False) -> Payment:
    response = invitee_client.post(reverse("billing:checkout"), {"amount": dollars})
    assert response.status_code == 303, response.content
    payment = Payment.objects.latest("id")
    session = stripe_standin.mark_paid(payment.checkout_session_id)
    completed = event("checkout.session.completed", session)
    assert deliver(completed).status_code == 200
    if twice:
        assert deliver(completed).content == b"already processed"
        deliver(event("checkout.session.async_payment_succeeded", session))  # another event
    payment.refresh_from_db()
    assert payment.status == "paid"
    return payment


@pytest.fixture
def invitee(owner_client):
    """A friend who signed up through the owner's invite link: (their client, the user)."""
    return sign_up_through(invite_path(owner_client), "friend@example.com")


# --- the tie ---------------------------------------------------------------------------------


def test_signing_up_through_the_invite_link_ties_the_account_once(owner_client, owner):
    path = invite_path(owner_client)
    code = Referrer.objects.get(user=owner).code
    assert path == f"/invite/{code}/" and str(owner.pk) != code
    _, friend = sign_up_through(path, "friend@example.com")
    referral = Referral.objects.get(invitee=friend)
    assert referral.referrer.user == owner
    # No change later: another inviter's code does nothing.
    other = Referrer.objects.create(user=User.objects.create_user("x@example.com"), code="other1")
    assert referral_tie(invitee_id=friend.pk, code=other.code) is None
    assert Referral.objects.get(invitee=friend).referrer.user == owner
    # The sign-up grant (on verification) is never commissioned.
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^\s]+/)", mail.outbox[-1].body)
    Client().post(link.group(1))
    friend.credit_account.refresh_from_db()
    assert friend.credit_account.balance == 500 * MICRO
    assert referral_entries(owner) == []
    ledger_clean()


def test_self_referral_is_refused(owner_client, owner):
    path = invite_path(owner_client)
    # Signed in: the inviter is an account already, nothing is kept for a sign-up.
    assert owner_client.get(path)["Location"] == reverse("dashboard")
    assert "referral_code" not in owner_client.session
    # The inviter's own mailbox under another spelling.
    _, alias = sign_up_through(path, "owner+again@example.com")
    assert not Referral.objects.filter(invitee=alias).exists()
    # The inviter's own account.
    assert referral_tie(invitee_id=owner.pk, code=path.split("/")[2]) is None
    assert not Referral.objects.exists()


def test_an_unknown_code_ties_nothing():
    _, user = sign_up_through("/invite/nosuchcode/", "lost@example.com")
    assert not Referral.objects.filter(invitee=user).exists()


# --- commissions -----------------------------------------------------------------------------


def test_a_paid_topup_posts_the_commission_once(owner, invitee, stripe_on, deliver):
    friend_client, friend = invitee
    payment = pay(friend_client, deliver, "10", twice=True)  # 1000 credits
    assert referral_entries(owner) == [(100 * MICRO, f"referral:{payment.pk}")]
    assert owner.credit_account.__class__.objects.get(user=owner).balance == 100 * MICRO
    assert friend.credit_account.__class__.objects.get(user=friend).balance == 1000 * MICRO
    ledger_clean()


def test_the_percentage_is_configurable(owner, invitee, stripe_on, deliver, settings):
    settings.REFERRAL_PERCENT = 25
    pay(invitee[0], deliver, "10")
    assert earned(owner) == 250 * MICRO


def charge(payment, refunds, amount_refunded):
    return {
        "id": "ch_1",
        "object": "charge",
        "payment_intent": payment.payment_intent_id,
        "amount": payment.amount_cents,
        "amount_refunded": amount_refunded,
        "refunds": {"object": "list", "data": refunds},
    }


def test_refunds_take_the_commission_back_in_proportion(owner, invitee, stripe_on, deliver):
    payment = pay(invitee[0], deliver, "10")
    first = [{"id": "re_1", "amount": 300, "status": "succeeded"}]
    deliver(event("charge.refunded", charge(payment, first, 300)))
    deliver(event("charge.refunded", charge(payment, first, 300)))  # delivered again
    assert earned(owner) == 70 * MICRO
    both = [*first, {"id": "re_2", "amount": 700, "status": "succeeded"}]
    deliver(event("charge.refunded", charge(payment, both, 1000)))
    assert earned(owner) == 0
    commission = ReferralCommission.objects.get(payment=payment)
    assert (commission.amount, commission.taken_back) == (100 * MICRO, 100 * MICRO)
    ledger_clean()


def test_a_refund_may_take_the_inviter_below_zero(owner, invitee, stripe_on, deliver):
    from apps.credits import services as credits

    payment = pay(invitee[0], deliver, "10")
    account = owner.credit_account.__class__.objects.get(user=owner)
    credits.credits_hold(account_id=account.pk, amount=60 * MICRO, reference="h")
    credits.credits_settle(reference="h", amount=60 * MICRO)  # spent 60 of the 100 earned
    full = [{"id": "re_9", "amount": 1000, "status": "succeeded"}]
    deliver(event("charge.refunded", charge(payment, full, 1000)))
    account.refresh_from_db()
    assert account.balance == -60 * MICRO
    ledger_clean()


def dispute(payment, status="needs_response"):
    return {
        "id": "dp_1",
        "object": "dispute",
        "payment_intent": payment.payment_intent_id,
        "amount": payment.amount_cents,
        "status": status,
    }


def test_a_dispute_takes_the_commission_back_and_a_won_one_restores_it(
    owner, invitee, stripe_on, deliver
):
    payment = pay(invitee[0], deliver, "10")
    deliver(event("charge.dispute.created", dispute(payment)))
    deliver(event("charge.dispute.created", dispute(payment), "evt_dispute_again"))
    assert earned(owner) == 0
    assert len(referral_entries(owner)) == 2
    deliver(event("charge.dispute.closed", dispute(payment, "won")))
    deliver(event("charge.dispute.closed", dispute(payment, "won"), "evt_won_again"))
    assert earned(owner) == 100 * MICRO
    ledger_clean()


def test_a_lost_dispute_keeps_the_commission_taken_back(owner, invitee, stripe_on, deliver):
    payment = pay(invitee[0], deliver, "10")
    deliver(event("charge.dispute.created", dispute(payment)))
    deliver(event("charge.dispute.closed", dispute(payment, "lost")))
    assert earned(owner) == 0
    ledger_clean()


def test_the_monthly_cap(owner, invitee, stripe_on, deliver, settings):
    settings.REFERRAL_MONTHLY_CAP_CREDITS = 150
    pay(invitee[0], deliver, "10")
    pay(invitee[0], deliver, "10")
    third = pay(invitee[0], deliver, "10")
    assert [a for a, _ in referral_entries(owner)] == [100 * MICRO, 50 * MICRO]
    assert not ReferralCommission.objects.filter(payment=third).exists()
    # A refund does not make room again: the cap counts commissions posted in the month.
    ledger_clean()


def test_the_cap_is_per_inviter_across_invitees(owner_client, owner, stripe_on, deliver, settings):
    settings.REFERRAL_MONTHLY_CAP_CREDITS = 150
    path = invite_path(owner_client)
    first, _ = sign_up_through(path, "one@example.com")
    second, _ = sign_up_through(path, "two@example.com")
    pay(first, deliver, "10")
    pay(second, deliver, "10")
    assert earned(owner) == 150 * MICRO


def test_no_commission_after_the_period(owner, invitee, stripe_on, deliver, settings):
    settings.REFERRAL_MONTHS = 12
    _, friend = invitee
    long_ago = add_months(timezone.now(), -12) - datetime.timedelta(minutes=1)
    Referral.objects.filter(invitee=friend).update(created_at=long_ago)
    pay(invitee[0], deliver, "10")
    assert referral_entries(owner) == []
    Referral.objects.filter(invitee=friend).update(
        created_at=long_ago + datetime.timedelta(hours=1)
    )
    pay(invitee[0], deliver, "10")
    assert earned(owner) == 100 * MICRO


def test_a_suspended_referrer_earns_nothing_new(owner, invitee, stripe_on, deliver, client):
    pay(invitee[0], deliver, "10")
    staff = User.objects.create_superuser("staff@example.com", PASSWORD)
    admin = Client()
    admin.force_login(staff)
    referrer = Referrer.objects.get(user=owner)
    response = admin.post(
        reverse("admin:billing_referrer_changelist"),
        {"action": "suspend_selected", "_selected_action": [referrer.pk]},
    )
    assert response.status_code == 302
    referrer.refresh_from_db()
    assert referrer.suspended
    pay(invitee[0], deliver, "10")
    assert earned(owner) == 100 * MICRO  # the earlier commission stays, no new one
    ledger_clean()
    for name in ("referrer", "referral", "referralcommission"):
        page = admin.get(reverse(f"admin:billing_{name}_changelist"))
        assert page.status_code == 200 and "owner@example.com" in page.content.decode()
    # Resuming lets new commissions through again.
    admin.post(
        reverse("admin:billing_referrer_changelist"),
        {"action": "resume_selected", "_selected_action": [referrer.pk]},
    )
    pay(invitee[0], deliver, "10")
    assert earned(owner) == 200 * MICRO


# --- the billing page ------------------------------------------------------------------------


def test_the_billing_page_shows_masked_invitees_and_earnings(
    owner_client, owner, invitee, stripe_on, deliver
):
    pay(invitee[0], deliver, "10")
    page = owner_client.get(BILLING).content.decode()
    assert "friend@example.com" not in page
    assert email_mask("friend@example.com") == "f***@e***.com"
    assert 'data-testid="invitee">f***@e***.com<' in page
    assert "100.00 credits" in re.search(r'data-testid="referral-earned">[^<]*', page).group(0)
    # The invitee sees their own (empty) invitations, not the inviter's.
    theirs = invitee[0].get(BILLING).content.decode()
    assert "f***@e***.com" not in theirs and "Nobody has signed up" in theirs


def test_the_invitations_in_chinese(owner_client, owner, invitee, stripe_on, deliver):
    pay(invitee[0], deliver, "10")
    page = owner_client.get(BILLING, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "邀请好友" in page and "已邀请：1 人。已获得：100.00 积分。" in page
    assert "有人通过它注册后的 12 个月内" in page and "10 %" in page


def test_an_auto_topup_is_a_paid_topup_too(owner, invitee, stripe_on, deliver):
    from apps.billing import services
    from apps.credits import services as credits

    from .test_auto_topup import save_card

    friend_client, friend = invitee
    credits.credits_grant(
        user_id=friend.pk, amount=150 * MICRO, kind="adjustment", reference="fund-friend"
    )
    save_card(friend_client)
    response = friend_client.post(
        reverse("billing:auto_topup"),
        {"auto-enabled": "on", "auto-threshold": "100", "auto-dollars": "20"},
    )
    assert response.status_code == 302
    account = friend.credit_account.__class__.objects.get(user=friend)
    credits.credits_hold(account_id=account.pk, amount=60 * MICRO, reference="spend")
    credits.credits_settle(reference="spend", amount=60 * MICRO)  # 90 credits: below 100
    services.auto_topup_run(user_id=friend.pk)
    payment = Payment.objects.get(automatic=True, user=friend)
    assert payment.status == "paid"
    [intent] = stripe_standin.intents.values()
    succeeded = event("payment_intent.succeeded", intent)
    deliver(succeeded)
    deliver(succeeded)
    assert referral_entries(owner) == [(200 * MICRO, f"referral:{payment.pk}")]
    ledger_clean()


def test_a_redemption_code_earns_nothing(owner, invitee):
    from apps.billing.redemption import redemption_batch_create, redemption_redeem

    _, friend = invitee
    staff = User.objects.create_superuser("staff@example.com", PASSWORD)
    batch = redemption_batch_create(
        credits_each=100 * MICRO,
        count=1,
        expires_at=None,
        one_per_account=False,
        created_by_id=staff.pk,
    )
    redemption_redeem(user_id=friend.pk, code=batch.codes[0], ip="127.0.0.1")
    assert friend.credit_account.__class__.objects.get(user=friend).balance == 100 * MICRO
    assert referral_entries(owner) == []


def test_a_closed_accounts_link_ties_and_earns_nothing(
    owner_client, owner, invitee, stripe_on, deliver
):
    from apps.accounts.services import user_delete

    path = invite_path(owner_client)
    user_delete(user_id=owner.pk)
    pay(invitee[0], deliver, "10")
    assert referral_entries(owner) == []
    _, late = sign_up_through(path, "late@example.com")
    assert not Referral.objects.filter(invitee=late).exists()
    ledger_clean()


@pytest.mark.django_db(transaction=True)
def test_the_cap_holds_when_invitees_pay_at_once(stripe_on, settings):
    import json

    from tests.factories import UserFactory
    from tests.threads import run_concurrently, unexpected

    from .webhooks import sign

    settings.REFERRAL_MONTHLY_CAP_CREDITS = 250
    inviter = UserFactory(email="inviter@example.com", verified=True)
    inviter_client = Client()
    inviter_client.force_login(inviter)
    path = invite_path(inviter_client)
    bodies = []
    for i in range(4):
        friend_client, _ = sign_up_through(path, f"friend{i}@example.com")
        response = friend_client.post(reverse("billing:checkout"), {"amount": "10"})
        assert response.status_code == 303
        payment = Payment.objects.latest("id")
        session = stripe_standin.mark_paid(payment.checkout_session_id)
        bodies.append(json.dumps(event("checkout.session.completed", session)).encode())

    def hit(i):
        return (
            Client()
            .generic(
                "POST",
                "/billing/stripe/webhook/",
                bodies[i],
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=sign(bodies[i]),
            )
            .status_code
        )

    statuses = run_concurrently(hit, 4)
    assert not unexpected(statuses, int) and set(statuses) == {200}, statuses
    assert Payment.objects.filter(status="paid").count() == 4
    assert sorted(a for a, _ in referral_entries(inviter)) == [50 * MICRO] + [100 * MICRO] * 2
    ledger_clean()


@pytest.mark.parametrize("language, heading", [("en", "Invite friends"), ("zh-hans", "邀请好友")])
def test_the_balance_docs_explain_referrals(client, language, heading):
    body = client.get(
        reverse("docs:page", args=["balance"]), HTTP_ACCEPT_LANGUAGE=language
    ).content.decode()
    assert heading in body and "/invite/" in body
