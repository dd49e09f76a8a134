"""Top-ups through Stripe Checkout: the Payment and its session, fulfilled exactly once
(whoever calls first, the webhook or the success page), and sessions that close unpaid."""

import json
import logging

import stripe
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.core.errors import ServiceError
from apps.core.money import CREDITS_PER_DOLLAR, MICRO
from apps.credits.models import LedgerEntry
from apps.credits.services import credits_grant
from apps.webhooks import events as webhook_events

from .models import Payment
from .stripe_api import TopUpsOff, invoice_store, stripe_client, stripe_enabled, validate_dollars

log = logging.getLogger("opencodex.billing")


Kind = LedgerEntry.Kind


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
                # A proper invoice: the billing address, optionally a company's tax id, and a
                # Stripe invoice (PDF) for the paid top-up.
                "billing_address_collection": "required",
                "tax_id_collection": {"enabled": True},
                "invoice_creation": {"enabled": True, "invoice_data": {"metadata": metadata}},
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
        webhook_events.payment_succeeded(payment)
        invoice = session.get("invoice")
        if isinstance(invoice, dict):
            invoice_store(payment, invoice)
        elif isinstance(invoice, str) and invoice and not payment.invoice_id:
            # Stripe names the session's invoice: only that invoice is ever linked to it.
            Payment.objects.filter(pk=payment.pk).update(invoice_id=invoice)
            payment.invoice_id = invoice
        return payment


def checkout_closed(*, session: dict, status: str) -> str:
    updated = Payment.objects.filter(
        checkout_session_id=session.get("id"),
        status__in=[Payment.Status.CREATED, Payment.Status.PENDING],
    ).update(status=status)
    return f"payment {status}" if updated else "nothing to update"
