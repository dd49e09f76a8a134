"""Stripe's webhook: each event verified, stored and handled once. Checkout and auto top-up
events go to their modules; refunds and disputes take credits back (a won dispute gives them
back); invoices are linked to their payment once Stripe's own records say so."""

import json
import logging

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit import services as audit
from apps.core.errors import ServiceError
from apps.credits.models import LedgerEntry
from apps.credits.services import credits_account_suspend, credits_grant, credits_take_back
from apps.webhooks import events as webhook_events

from .auto_topup import card_setup_complete, payment_intent_failed, payment_intent_fulfil
from .checkout import (
    checkout_closed,
    checkout_failed,
    checkout_fulfil,
    checkout_session_retrieve,
)
from .currencies import money
from .models import Payment, StripeEvent
from .referrals import referral_commission_restore, referral_commission_take_back
from .stripe_api import CREDITED, MISMATCH, NotYetFulfilled, invoice_store

log = logging.getLogger("opencodex.billing")


Kind = LedgerEntry.Kind


class BadSignature(ServiceError):
    code = "bad_signature"


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
        memo=f"Refund of {money(cents, payment.currency)}",
    )
    if entry is not None:
        referral_commission_take_back(payment=payment, cents=cents, reference=reference)
        payment.credits_refunded += amount
        webhook_events.payment_refunded(payment, cents=cents, credits=amount, reference=reference)
        audit.record(
            account_id=payment.user_id,
            action="refund.issued",
            target=reference,
            after={"amount": money(cents, payment.currency), "credits": -amount},
            actor_label="Stripe",
        )


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
    referral_commission_take_back(
        payment=payment, cents=int(dispute["amount"]), reference=f"stripe-dispute:{dispute['id']}"
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
    referral_commission_restore(payment=payment, reference=f"stripe-dispute:{dispute['id']}")
    payment.status = Payment.Status.PAID
    payment.save(update_fields=["status"])
    still_disputed = Payment.objects.filter(
        user_id=payment.user_id, status=Payment.Status.DISPUTED
    ).exists()
    if not still_disputed:
        credits_account_suspend(user_id=payment.user_id, suspended=False)
    return "dispute won: credits restored" + ("" if still_disputed else ", account active")


def charge_succeeded(*, charge: dict) -> str:
    """Keep the charge's receipt (in the currency paid) and how it was paid (card, alipay,
    wechat_pay) for the payment history."""
    payment = (
        Payment.objects.filter(payment_intent_id=str(charge.get("payment_intent"))).first()
        if charge.get("payment_intent")
        else None
    )
    method = str((charge.get("payment_method_details") or {}).get("type") or "")[:30]
    if payment is None or not (charge.get("receipt_url") or method):
        return "nothing to record"
    payment.receipt_url = charge.get("receipt_url") or payment.receipt_url
    payment.payment_method = method or payment.payment_method
    payment.save(update_fields=["receipt_url", "payment_method"])
    return "receipt recorded"


def _invoice_belongs(payment: Payment, invoice: dict) -> bool:
    """Whether Stripe says ``invoice`` is this payment's: the invoice id the payment's Checkout
    Session (or our own auto top-up invoice) names, in the payment's currency and amount.
    Metadata alone proves nothing: anything in the Stripe account can carry it."""
    invoice_id = str(invoice.get("id") or "")
    if not invoice_id:
        return False
    known = payment.invoice_id
    if not known and payment.checkout_session_id:
        # A Stripe error propagates: the webhook answers 500 and Stripe delivers again.
        session = checkout_session_retrieve(session_id=payment.checkout_session_id)
        named = session.get("invoice")
        known = named.get("id") if isinstance(named, dict) else str(named or "")
    if known != invoice_id:
        return False
    currency = str(invoice.get("currency") or "").lower()
    amount = invoice.get("amount_paid") or invoice.get("total") or invoice.get("amount_due")
    return currency == payment.currency and amount == payment.amount_cents


def invoice_recorded(*, invoice: dict) -> str:
    """Link the Stripe invoice of a top-up (Checkout's ``invoice_creation`` carries our payment
    id in its metadata) so the payment history offers its page and PDF, once Stripe's own
    records say the invoice is that payment's."""
    payment_id = str((invoice.get("metadata") or {}).get("payment_id") or "")
    payment = Payment.objects.filter(pk=int(payment_id)).first() if payment_id.isdigit() else None
    if payment is None:
        return "no payment for this invoice"
    if not _invoice_belongs(payment, invoice):
        log.warning(
            "invoice %s names payment %s but is not its invoice", invoice.get("id"), payment.pk
        )
        return "not this payment's invoice"
    invoice_store(payment, invoice)
    return "invoice recorded"


def _dispatch(event: dict) -> str | None:
    kind, obj = event.get("type"), (event.get("data") or {}).get("object") or {}
    if kind == "checkout.session.completed" and obj.get("mode") == "setup":
        saved = card_setup_complete(session=obj)
        return "card saved" if saved else "no auto top-up for this setup"
    if kind == "payment_intent.succeeded":
        return payment_intent_fulfil(intent=obj)
    if kind == "payment_intent.payment_failed":
        return payment_intent_failed(intent=obj)
    if kind in ("invoice.finalized", "invoice.paid"):
        return invoice_recorded(invoice=obj)
    if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        payment = checkout_fulfil(session=obj)
        if payment is None:
            return "no payment for this session"
        if payment.status == Payment.Status.MISMATCH:
            return f"{MISMATCH}: {payment.error}"
        return f"payment {payment.status}"
    if kind == "checkout.session.async_payment_failed":
        return checkout_failed(session=obj)
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
