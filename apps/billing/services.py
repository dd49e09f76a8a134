"""Top-ups through Stripe Checkout, fulfilled exactly once; refunds and disputes take credits
back. 1 credit = US$0.01, so a top-up of N dollars buys N × 100 credits."""

import json
import logging

import stripe
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.utils import timezone

from apps.core.errors import ServiceError
from apps.core.money import CREDITS_PER_DOLLAR, MICRO, format_credits
from apps.credits.models import Account, LedgerEntry
from apps.credits.services import credits_account_suspend, credits_grant, credits_take_back

from .models import BillingProfile, Payment, StripeEvent

log = logging.getLogger("opencodex.billing")
MISMATCH = "amount mismatch"
Kind = LedgerEntry.Kind


class TopUpsOff(ServiceError):
    code = "topups_off"


def stripe_enabled() -> bool:
    return bool(settings.STRIPE_SECRET_KEY and settings.STRIPE_WEBHOOK_SECRET)


def stripe_client() -> stripe.StripeClient:
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": settings.STRIPE_API_BASE},
        max_network_retries=1,
    )


def validate_dollars(value) -> int:
    """A top-up amount: a pack, or whole dollars from the minimum to the maximum."""
    low, high = settings.CUSTOM_TOPUP_MIN_DOLLARS, settings.CUSTOM_TOPUP_MAX_DOLLARS
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"Top-ups are whole dollars from ${low} to ${high:,}.")
    return value


def checkout_create(*, user, dollars: int, success_url: str, cancel_url: str) -> tuple:
    """Record the Payment, then open a Stripe Checkout Session for it; returns (payment, url)."""
    if not stripe_enabled():
        raise TopUpsOff("Top-ups are turned off on this server.")
    dollars = validate_dollars(dollars)
    credits = dollars * CREDITS_PER_DOLLAR
    payment = Payment.objects.create(
        user=user,
        amount_cents=dollars * 100,
        currency=settings.STRIPE_CURRENCY,
        credits=credits * MICRO,
    )
    metadata = {"payment_id": str(payment.pk), "user_id": str(user.pk), "credits": str(credits)}
    try:
        session = stripe_client().v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": payment.currency,
                            "unit_amount": payment.amount_cents,
                            "product_data": {"name": f"{credits:,} OpenCodex credits"},
                        },
                    }
                ],
                "client_reference_id": str(user.pk),
                "customer_email": user.email,
                "metadata": metadata,
                "payment_intent_data": {"metadata": metadata},
                "success_url": success_url + "?session_id={CHECKOUT_SESSION_ID}",
                "cancel_url": cancel_url,
            }
        )
    except stripe.StripeError as exc:
        Payment.objects.filter(pk=payment.pk).update(
            status=Payment.Status.FAILED, error=f"Checkout could not start: {exc}"[:2000]
        )
        raise ServiceError("Stripe could not start the checkout. Please try again.") from exc
    Payment.objects.filter(pk=payment.pk).update(checkout_session_id=session.id)
    payment.checkout_session_id = session.id
    return payment, session.url


def checkout_session_retrieve(*, session_id: str) -> dict:
    session = stripe_client().v1.checkout.sessions.retrieve(session_id)
    return json.loads(json.dumps(session.to_dict()))


def checkout_fulfil(*, session: dict) -> Payment | None:
    """Credit a paid Checkout Session, once, whoever calls first (the webhook or the success
    page, in any order, any number of times). The amount and currency must match our Payment."""
    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update()
            .filter(checkout_session_id=session.get("id"))
            .first()
        )
        if payment is None:
            return None
        done = {
            Payment.Status.PAID,
            Payment.Status.PARTIALLY_REFUNDED,
            Payment.Status.REFUNDED,
            Payment.Status.DISPUTED,
            Payment.Status.MISMATCH,
        }
        if payment.status in done:
            return payment
        if session.get("payment_intent"):
            payment.payment_intent_id = str(session["payment_intent"])
        if session.get("payment_status") != "paid":
            payment.status = Payment.Status.PENDING
            payment.save(update_fields=["status", "payment_intent_id"])
            return payment
        amount, currency = session.get("amount_total"), str(session.get("currency", "")).lower()
        if amount != payment.amount_cents or currency != payment.currency:
            payment.status = Payment.Status.MISMATCH
            payment.error = (
                f"Stripe reported {amount} {currency}, the payment was for "
                f"{payment.amount_cents} {payment.currency}: nothing credited."
            )
            payment.save(update_fields=["status", "error", "payment_intent_id"])
            log.error("payment %s: %s", payment.pk, payment.error)
            return payment
        credits_grant(
            user_id=payment.user_id,
            amount=payment.credits,
            kind=Kind.TOPUP,
            reference=f"stripe:{session['id']}",
            memo=f"Top-up ${payment.amount_dollars}",
        )
        payment.status = Payment.Status.PAID
        payment.paid_at = timezone.now()
        payment.save(update_fields=["status", "paid_at", "payment_intent_id"])
        return payment


class NotYetFulfilled(Exception):
    """The money event is about a payment we have not credited yet: Stripe delivers it again."""


CREDITED = {"paid", "partially_refunded", "refunded", "disputed"}


def _payment_for_charge(obj: dict) -> Payment | None:
    """The credited payment a charge, refund or dispute is about. Raises NotYetFulfilled when
    the payment is unknown or not credited yet (events arrive in any order): the webhook
    answers 500 and Stripe retries after the checkout events were handled. Returns None for a
    payment that will never be credited (an amount mismatch): nothing to take back."""
    intent = obj.get("payment_intent")
    payment = (
        Payment.objects.select_for_update().filter(payment_intent_id=str(intent)).first()
        if intent
        else None
    )
    if payment is None or payment.status in (Payment.Status.CREATED, Payment.Status.PENDING):
        raise NotYetFulfilled(f"no credited payment for {intent!r} yet")
    if payment.status not in CREDITED:
        return None
    return payment


def _credits_for(payment: Payment, cents: int) -> int:
    return payment.credits * cents // payment.amount_cents


def _take_back_refund(payment: Payment, *, cents: int, reference: str) -> None:
    """Take back the credits of a refund once (by its reference), never beyond what the
    payment bought in total."""
    amount = min(_credits_for(payment, cents), payment.credits - payment.credits_refunded)
    if amount <= 0:
        return
    entry = credits_take_back(
        user_id=payment.user_id,
        amount=amount,
        kind=Kind.REFUND,
        reference=reference,
        memo=f"Refund of ${cents / 100:.2f}",
    )
    if entry is not None:
        payment.credits_refunded += amount


@transaction.atomic
def charge_refunded(*, charge: dict) -> str:
    """Take back the refunded part: each refund once, by its id; partial refunds add up, and
    never to more credits than the payment bought."""
    payment = _payment_for_charge(charge)
    if payment is None:
        return "payment was never credited: nothing to take back"
    refunds = (charge.get("refunds") or {}).get("data")
    if refunds is not None:
        for refund in refunds:
            if refund.get("status") in ("failed", "canceled"):
                continue
            _take_back_refund(
                payment, cents=int(refund["amount"]), reference=f"stripe-refund:{refund['id']}"
            )
    else:  # no refund list in this API version: act on the new cumulative total, once each
        total = int(charge.get("amount_refunded") or 0)
        if total > payment.amount_refunded_cents:
            _take_back_refund(
                payment,
                cents=total - payment.amount_refunded_cents,
                reference=f"stripe-refund:{charge['id']}:{total}",
            )
    payment.amount_refunded_cents = max(
        payment.amount_refunded_cents, int(charge.get("amount_refunded") or 0)
    )
    if payment.status != Payment.Status.DISPUTED:
        payment.status = (
            Payment.Status.REFUNDED
            if payment.amount_refunded_cents >= payment.amount_cents
            else Payment.Status.PARTIALLY_REFUNDED
        )
    if charge.get("receipt_url"):
        payment.receipt_url = charge["receipt_url"]
    payment.save(
        update_fields=["amount_refunded_cents", "credits_refunded", "status", "receipt_url"]
    )
    return "refund taken back"


def dispute_created(*, dispute: dict) -> str:
    """Claw the disputed credits back and suspend the account's API access."""
    payment = _payment_for_charge(dispute)
    if payment is None:
        return "payment was never credited: nothing to take back"
    closed_in_our_favour = StripeEvent.objects.filter(
        type="charge.dispute.closed",
        payload__data__object__id=dispute["id"],
        payload__data__object__status__in=["won", "warning_closed"],
    ).exists()
    if closed_in_our_favour:  # the closing event was handled first (events come in any order)
        return "dispute already closed in the customer's favour"
    credits_take_back(
        user_id=payment.user_id,
        amount=_credits_for(payment, int(dispute["amount"])),
        kind=Kind.DISPUTE,
        reference=f"stripe-dispute:{dispute['id']}",
        memo="Payment disputed",
    )
    credits_account_suspend(user_id=payment.user_id, suspended=True)
    payment.status = Payment.Status.DISPUTED
    payment.save(update_fields=["status"])
    return "credits taken back, account suspended"


def dispute_closed(*, dispute: dict) -> str:
    """A dispute closed in our favour (won, or an inquiry closed without a chargeback) gives the
    credits back and lifts the suspension once no other payment of the user is disputed; a
    lost one keeps both."""
    payment = _payment_for_charge(dispute)
    if payment is None:
        return "payment was never credited: nothing to give back"
    if dispute.get("status") not in ("won", "warning_closed"):
        return f"dispute {dispute.get('status')}: credits stay taken back"
    if not LedgerEntry.objects.filter(reference=f"stripe-dispute:{dispute['id']}").exists():
        return "nothing was taken back for this dispute"
    credits_grant(
        user_id=payment.user_id,
        amount=_credits_for(payment, int(dispute["amount"])),
        kind=Kind.DISPUTE,
        reference=f"stripe-dispute-won:{dispute['id']}",
        memo="Dispute won",
    )
    payment.status = Payment.Status.PAID
    payment.save(update_fields=["status"])
    still_disputed = Payment.objects.filter(
        user_id=payment.user_id, status=Payment.Status.DISPUTED
    ).exists()
    if not still_disputed:
        credits_account_suspend(user_id=payment.user_id, suspended=False)
    return "dispute won: credits restored" + ("" if still_disputed else ", account active")


def charge_succeeded(*, charge: dict) -> str:
    payment = (
        Payment.objects.filter(payment_intent_id=str(charge.get("payment_intent"))).first()
        if charge.get("payment_intent")
        else None
    )
    if payment is None or not charge.get("receipt_url"):
        return "nothing to record"
    payment.receipt_url = charge["receipt_url"]
    payment.save(update_fields=["receipt_url"])
    return "receipt recorded"


def checkout_closed(*, session: dict, status: str) -> str:
    updated = Payment.objects.filter(
        checkout_session_id=session.get("id"),
        status__in=[Payment.Status.CREATED, Payment.Status.PENDING],
    ).update(status=status)
    return f"payment {status}" if updated else "nothing to update"


def _dispatch(event: dict) -> str | None:
    kind, obj = event.get("type"), (event.get("data") or {}).get("object") or {}
    if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        payment = checkout_fulfil(session=obj)
        if payment is None:
            return "no payment for this session"
        if payment.status == Payment.Status.MISMATCH:
            return f"{MISMATCH}: {payment.error}"
        return f"payment {payment.status}"
    if kind == "checkout.session.async_payment_failed":
        return checkout_closed(session=obj, status=Payment.Status.FAILED)
    if kind == "checkout.session.expired":
        return checkout_closed(session=obj, status=Payment.Status.EXPIRED)
    if kind == "charge.refunded":
        return charge_refunded(charge=obj)
    if kind == "charge.dispute.created":
        return dispute_created(dispute=obj)
    if kind == "charge.dispute.closed":
        return dispute_closed(dispute=obj)
    if kind == "charge.succeeded":
        return charge_succeeded(charge=obj)
    return None


class BadSignature(ServiceError):
    code = "bad_signature"


def stripe_event_receive(*, payload: bytes, signature: str | None) -> str:
    """Verify, store and handle one webhook delivery. Raises BadSignature (nothing written);
    other failures are stored on the event and raised so Stripe delivers it again."""
    try:
        stripe.Webhook.construct_event(
            payload,
            signature or "",
            settings.STRIPE_WEBHOOK_SECRET,
            tolerance=settings.STRIPE_WEBHOOK_TOLERANCE,
        )
        event = json.loads(payload)
        event_id, kind = str(event["id"]), str(event["type"])
    except (ValueError, KeyError, TypeError, stripe.SignatureVerificationError) as exc:
        raise BadSignature("Invalid Stripe signature or payload.") from exc
    try:
        record, created = StripeEvent.objects.get_or_create(
            event_id=event_id, defaults={"type": kind, "payload": event}
        )
    except IntegrityError:  # the same event delivered twice at once
        record, created = StripeEvent.objects.get(event_id=event_id), False
    if not created and record.status in (StripeEvent.Status.PROCESSED, StripeEvent.Status.IGNORED):
        return "already processed"
    try:
        with transaction.atomic():
            outcome = _dispatch(event)
        handled = outcome is not None
        record.status = StripeEvent.Status.PROCESSED if handled else StripeEvent.Status.IGNORED
        # A mismatch is handled (recorded on the Payment, nothing credited) and kept visible.
        record.error = outcome if handled and outcome.startswith(MISMATCH) else ""
    except Exception as exc:
        record.status, record.error = StripeEvent.Status.FAILED, f"{type(exc).__name__}: {exc}"
        record.processed_at = timezone.now()
        record.save(update_fields=["status", "error", "processed_at"])
        raise
    record.processed_at = timezone.now()
    record.save(update_fields=["status", "error", "processed_at"])
    return outcome or "ignored"


def billing_profile(*, user_id: int) -> BillingProfile:
    profile, _ = BillingProfile.objects.get_or_create(user_id=user_id)
    return profile


def low_balance_threshold_set(*, user_id: int, threshold: int) -> BillingProfile:
    if threshold < 0:
        raise ValueError("The threshold cannot be negative.")
    profile = billing_profile(user_id=user_id)
    profile.low_balance_threshold = threshold
    profile.save(update_fields=["low_balance_threshold"])
    return profile


def low_balance_notify() -> int:
    """E-mail each user whose balance fell below their warning level, once; a balance back at
    or above it re-arms the warning. Returns how many e-mails were sent."""
    with_history = Account.objects.filter(
        Exists(LedgerEntry.objects.filter(account_id=OuterRef("pk")))
    )
    missing = with_history.exclude(user__billing_profile__isnull=False).values_list(
        "user_id", flat=True
    )
    BillingProfile.objects.bulk_create(
        [BillingProfile(user_id=user_id) for user_id in missing], ignore_conflicts=True
    )
    balance = Account.objects.filter(user_id=OuterRef("user_id")).values("balance")[:1]
    profiles = BillingProfile.objects.annotate(balance=Subquery(balance)).filter(
        balance__isnull=False
    )
    profiles.filter(low_balance_notified=True, balance__gte=F("low_balance_threshold")).update(
        low_balance_notified=False
    )
    sent = 0
    for profile in profiles.filter(
        low_balance_notified=False, balance__lt=F("low_balance_threshold"), user__is_active=True
    ).select_related("user"):
        with transaction.atomic():
            claimed = BillingProfile.objects.filter(
                pk=profile.pk, low_balance_notified=False
            ).update(low_balance_notified=True)
            if claimed:  # another run did not get there first
                transaction.on_commit(lambda profile=profile: _send_low_balance(profile))
                sent += 1
    return sent


def _send_low_balance(profile: BillingProfile) -> None:
    send_mail(
        "[OpenCodex] Your credit balance is low",
        f"Your OpenCodex balance is {format_credits(profile.balance)} credits, below your "
        f"warning level of {format_credits(profile.low_balance_threshold)} credits.\n\n"
        f"Top up at {settings.SITE_URL}/billing/ to keep your API keys working.\n",
        None,
        [profile.user.email],
    )


def _scrub(value, secret: str):
    if isinstance(value, dict):
        return {k: _scrub(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secret) for v in value]
    if isinstance(value, str) and secret in value.lower():
        return "(erased)"
    return value


def billing_forget_user(*, user_id: int, email: str) -> int:
    """A user deleted their account: their payments stay (they are money records), but the
    Stripe events stored about them lose every string that carries their e-mail address (Stripe
    sends it back as customer_email, customer_details...). Returns how many events changed."""
    email = (email or "").strip().lower()
    if not email:
        return 0
    payments = Payment.objects.filter(user_id=user_id)
    ids = {i for i in payments.values_list("checkout_session_id", flat=True) if i}
    ids |= {i for i in payments.values_list("payment_intent_id", flat=True) if i}
    changed = 0
    if not ids:
        return 0
    events = StripeEvent.objects.filter(
        Q(payload__data__object__id__in=ids) | Q(payload__data__object__payment_intent__in=ids)
    )
    for event in events.only("pk", "payload"):
        scrubbed = _scrub(event.payload, email)
        if scrubbed != event.payload:
            StripeEvent.objects.filter(pk=event.pk).update(payload=scrubbed)
            changed += 1
    BillingProfile.objects.filter(user_id=user_id).update(low_balance_notified=True)
    return changed
