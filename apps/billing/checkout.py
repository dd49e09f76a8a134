"""Top-ups through Stripe Checkout: the Payment and its session, fulfilled exactly once
(whoever calls first, the webhook or the success page, and only once Stripe says the money
arrived), sessions that close unpaid, and asynchronous payments that fail.

A session is in the buyer's currency at its configured price (apps/billing/currencies.py), and
offers cards and the wallets Stripe accepts in that currency (Alipay, WeChat Pay). A wallet may
confirm later: Stripe then completes the session unpaid and sends
``checkout.session.async_payment_succeeded`` or ``…_failed``; only a session whose
``payment_status`` is ``paid`` is ever credited."""

import json
import logging

import stripe
from django.db import transaction
from django.utils import timezone

from apps.audit import services as audit
from apps.core.errors import ServiceError
from apps.core.recipients import account_billing_details, account_recipients
from apps.credits.models import LedgerEntry
from apps.credits.services import credits_grant
from apps.webhooks import events as webhook_events

from .currencies import METHOD_NAMES, currency_valid, payment_methods, quote
from .models import BillingProfile, Payment, StripeEvent
from .referrals import referral_commission_post
from .stripe_api import TopUpsOff, invoice_store, stripe_client, stripe_enabled

log = logging.getLogger("opencodex.billing")


Kind = LedgerEntry.Kind
# Stripe Checkout's page language for ours (others: Stripe picks from the browser).
CHECKOUT_LOCALES = {"zh-hans": "zh", "zh-hant": "zh-TW", "en": "en"}


def billing_currency_set(*, user_id: int, currency: str) -> BillingProfile:
    """Remember the currency the user chose to buy in (their pages show prices in it)."""
    if not currency_valid(currency):
        raise ValueError(f"Top-ups are not sold in {currency!r}.")
    profile, _ = BillingProfile.objects.get_or_create(user_id=user_id)
    if profile.currency != currency:
        profile.currency = currency
        profile.save(update_fields=["currency"])
    return profile


def checkout_create(
    *,
    user,
    currency: str,
    success_url: str,
    cancel_url: str,
    pack: int | None = None,
    units: int | None = None,
    language: str | None = None,
) -> tuple:
    """Record the Payment, then open a Stripe Checkout Session for it; returns (payment, url).
    ``pack`` (its credits) or ``units`` (whole units of ``currency``) say what is bought."""
    if not stripe_enabled():
        raise TopUpsOff("Top-ups are turned off on this server.")
    price = quote(currency=currency, pack=pack, units=units)
    payment = Payment.objects.create(
        user=user, amount_cents=price.amount, currency=price.currency, credits=price.credits
    )
    credits = price.credits_whole
    metadata = {"payment_id": str(payment.pk), "user_id": str(user.pk), "credits": str(credits)}
    methods = payment_methods(price.currency)
    options = {}
    if "wechat_pay" in methods:
        options["wechat_pay"] = {"client": "web"}  # Checkout shows the QR code to scan
    try:
        session = stripe_client().v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "payment_method_types": methods,
                **({"payment_method_options": options} if options else {}),
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
                # An organization's receipts go to a member who handles its billing.
                "customer_email": (account_recipients(user, "billing") or [user.email])[0],
                "locale": CHECKOUT_LOCALES.get((language or "").lower(), "auto"),
                "metadata": metadata,
                "payment_intent_data": {"metadata": metadata},
                # A proper invoice: the billing address, optionally a company's tax id, and a
                # Stripe invoice (PDF) for the paid top-up, in the currency paid.
                "billing_address_collection": "required",
                "tax_id_collection": {"enabled": True},
                "invoice_creation": {"enabled": True, "invoice_data": invoice_data(user, metadata)},
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
            _charge_seen(payment)
        if session.get("payment_status") != "paid":
            # Unpaid: an asynchronous method has not confirmed yet (nothing is credited). A
            # failure or expiry handled first stays as it is.
            if payment.status == Payment.Status.CREATED:
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
            memo=f"Top-up {payment.amount_display}",
        )
        payment.status = Payment.Status.PAID
        payment.paid_at = timezone.now()
        payment.failure_reason = ""
        payment.save(update_fields=["status", "paid_at", "payment_intent_id", "failure_reason"])
        referral_commission_post(payment=payment)
        webhook_events.payment_succeeded(payment)
        audit.record(
            account_id=payment.user_id,
            action="topup.succeeded",
            target=f"stripe:{session['id']}",
            after={"amount": payment.amount_display, "credits": payment.credits},
            actor_label="Stripe",
        )
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


def _charge_seen(payment: Payment) -> None:
    """Events come in any order: a ``charge.succeeded`` handled before this payment knew its
    PaymentIntent could not record how it was paid and its receipt; take them from it now."""
    if payment.payment_method and payment.receipt_url:
        return
    seen = (
        StripeEvent.objects.filter(
            type="charge.succeeded", payload__data__object__payment_intent=payment.payment_intent_id
        )
        .order_by("-id")
        .values_list("payload", flat=True)
        .first()
    )
    charge = (seen or {}).get("data", {}).get("object") or {}
    method = str((charge.get("payment_method_details") or {}).get("type") or "")[:30]
    payment.payment_method = payment.payment_method or method
    payment.receipt_url = payment.receipt_url or str(charge.get("receipt_url") or "")[:500]
    Payment.objects.filter(pk=payment.pk).update(
        payment_method=payment.payment_method, receipt_url=payment.receipt_url
    )


def checkout_failed(*, session: dict) -> str:
    """An asynchronous payment (Alipay, WeChat Pay…) failed after the customer left Checkout:
    nothing is credited, and the payment says why, as the method told Stripe (read from the
    session's PaymentIntent; Stripe delivers the event again if it cannot be read)."""
    reason, method = "", ""
    intent_id = session.get("payment_intent")
    if isinstance(intent_id, dict):
        intent_id = intent_id.get("id")
    if intent_id:
        intent = stripe_client().v1.payment_intents.retrieve(str(intent_id)).to_dict()
        error = intent.get("last_payment_error") or {}
        reason = str(error.get("message") or "")
        method = str((error.get("payment_method") or {}).get("type") or "")
    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update()
            .filter(checkout_session_id=session.get("id"))
            .first()
        )
        if payment is None:
            return "no payment for this session"
        if payment.status not in (Payment.Status.CREATED, Payment.Status.PENDING):
            return f"payment {payment.status}"
        name = METHOD_NAMES.get(method)
        fallback = f"{name} did not confirm the payment." if name else "The payment failed."
        payment.status = Payment.Status.FAILED
        payment.payment_method = method or payment.payment_method
        payment.payment_intent_id = str(intent_id or payment.payment_intent_id)
        payment.failure_reason = (reason or fallback)[:500]
        payment.save(
            update_fields=["status", "payment_method", "payment_intent_id", "failure_reason"]
        )
        return "payment failed"


def invoice_data(user, metadata: dict) -> dict:
    """The Stripe invoice of a top-up: our metadata and, for an organization that set them, its
    billing name, address and tax id (the description, and the tax id as a custom field, which
    Stripe limits to 30 characters)."""
    data = {"metadata": metadata}
    details = account_billing_details(user)
    if details and any(details.values()):
        lines = [details.get("name", ""), details.get("address", "")]
        if details.get("tax_id"):
            lines.append(f"Tax ID: {details['tax_id']}")
            data["custom_fields"] = [{"name": "Tax ID", "value": details["tax_id"][:30]}]
        data["description"] = "\n".join(line for line in lines if line)[:500]
    return data
