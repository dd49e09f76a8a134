"""Top-ups through Stripe Checkout, fulfilled exactly once; refunds and disputes take credits
back. 1 credit = US$0.01, so a top-up of N dollars buys N × 100 credits."""

import json
import logging
from datetime import timedelta

import stripe
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.utils import timezone

from apps.core.errors import ServiceError
from apps.core.money import CREDITS_PER_DOLLAR, MICRO, format_credits
from apps.core.queue import enqueue_on_commit
from apps.credits.models import Account, LedgerEntry, month_of
from apps.credits.services import credits_account_suspend, credits_grant, credits_take_back

from .models import AutoTopUp, AutoTopUpAttempt, BillingProfile, BudgetAlert, Payment, StripeEvent

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
        invoice = session.get("invoice")
        if isinstance(invoice, dict):
            _invoice_store(payment, invoice)
        elif isinstance(invoice, str) and invoice and not payment.invoice_id:
            # Stripe names the session's invoice: only that invoice is ever linked to it.
            Payment.objects.filter(pk=payment.pk).update(invoice_id=invoice)
            payment.invoice_id = invoice
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


# What Stripe sends back about the person paying: blanked in stored events when they delete
# their account (the amounts, ids and statuses, the money facts, stay).
PERSONAL_KEYS = frozenset(
    {
        "customer_details",
        "billing_details",
        "shipping",
        "shipping_details",
        "customer_email",
        "customer_name",
        "customer_phone",
        "customer_address",
        "customer_shipping",
        "customer_tax_ids",
        "receipt_email",
    }
)
CUSTOMER_KEYS = frozenset({"email", "name", "phone", "address", "shipping", "tax_ids"})


def _scrub(value, emails: set[str], *, customer: bool = False):
    if isinstance(value, dict):
        customer = customer or value.get("object") == "customer"
        return {
            k: None
            if k in PERSONAL_KEYS or (customer and k in CUSTOMER_KEYS)
            else _scrub(v, emails, customer=customer)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub(v, emails, customer=customer) for v in value]
    if isinstance(value, str) and any(email in value.lower() for email in emails):
        return "(erased)"
    return value


def billing_forget_user(*, user_id: int, emails: set[str], customer_id: str = "") -> int:
    """A user deleted their account: their payments stay (they are money records), but every
    stored Stripe event about them (their Checkout Sessions, payments, invoices, setup sessions,
    their Stripe customer) loses the personal data Stripe sent back: name, e-mail, phone,
    addresses, tax ids, and any string carrying one of their addresses. Returns how many events
    changed."""
    emails = {e.strip().lower() for e in emails if e and e.strip()}
    payments = Payment.objects.filter(user_id=user_id)
    ids = set()
    for row in payments.values_list("checkout_session_id", "payment_intent_id", "invoice_id"):
        ids |= {i for i in row if i}
    about = Q(payload__data__object__metadata__user_id=str(user_id)) | Q(
        payload__data__object__client_reference_id=str(user_id)
    )
    if ids:
        about |= Q(payload__data__object__id__in=ids) | Q(
            payload__data__object__payment_intent__in=ids
        )
    if customer_id:
        about |= Q(payload__data__object__customer=customer_id) | Q(
            payload__data__object__id=customer_id
        )
    changed = 0
    for event in StripeEvent.objects.filter(about).only("pk", "payload").iterator():
        scrubbed = _scrub(event.payload, emails)
        if scrubbed != event.payload:
            StripeEvent.objects.filter(pk=event.pk).update(payload=scrubbed)
            changed += 1
    BillingProfile.objects.filter(user_id=user_id).update(low_balance_notified=True)
    return changed


# --- invoices ---------------------------------------------------------------------------------


def _invoice_store(payment: Payment, invoice: dict) -> None:
    payment.invoice_id = str(invoice.get("id") or "")
    payment.invoice_url = invoice.get("hosted_invoice_url") or ""
    payment.invoice_pdf = invoice.get("invoice_pdf") or ""
    payment.save(update_fields=["invoice_id", "invoice_url", "invoice_pdf"])


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
    _invoice_store(payment, invoice)
    return "invoice recorded"


# --- a saved card and auto top-up ------------------------------------------------------------


def auto_topup_for(*, user_id: int) -> AutoTopUp:
    settings_, _ = AutoTopUp.objects.get_or_create(user_id=user_id)
    return settings_


def card_setup_start(*, user, success_url: str, cancel_url: str) -> str:
    """Open a Checkout Session in setup mode (Stripe saves the card for off-session use);
    returns its URL. The Stripe customer is created once and kept."""
    if not stripe_enabled():
        raise TopUpsOff("Top-ups are turned off on this server.")
    config = auto_topup_for(user_id=user.pk)
    client = stripe_client()
    try:
        if not config.customer_id:
            customer = client.v1.customers.create(
                params={"email": user.email, "metadata": {"user_id": str(user.pk)}},
                options={"idempotency_key": f"opencodex-customer-{user.pk}"},
            )
            AutoTopUp.objects.filter(pk=config.pk, customer_id="").update(customer_id=customer.id)
            config.refresh_from_db()
        session = client.v1.checkout.sessions.create(
            params={
                "mode": "setup",
                "currency": settings.STRIPE_CURRENCY,
                "customer": config.customer_id,
                "client_reference_id": str(user.pk),
                "metadata": {"user_id": str(user.pk), "purpose": "auto_topup"},
                "setup_intent_data": {"metadata": {"user_id": str(user.pk)}},
                "success_url": success_url + "?session_id={CHECKOUT_SESSION_ID}",
                "cancel_url": cancel_url,
            }
        )
    except stripe.StripeError as exc:
        raise ServiceError("Stripe could not start saving the card. Please try again.") from exc
    return session.url


def card_setup_complete(*, session: dict) -> AutoTopUp | None:
    """Keep the card a completed setup-mode Checkout saved: Stripe's payment method id, its
    brand and last 4 digits. Safe to call from the return page and the webhook, in any order."""
    if session.get("mode") != "setup" or session.get("status") != "complete":
        return None
    user_id = str((session.get("metadata") or {}).get("user_id") or "")
    config = AutoTopUp.objects.filter(
        user_id=int(user_id) if user_id.isdigit() else 0, customer_id=session.get("customer")
    ).first()
    if config is None:
        return None
    client = stripe_client()
    intent = session.get("setup_intent")
    if isinstance(intent, str):
        intent = client.v1.setup_intents.retrieve(intent).to_dict()
    method_id = (intent or {}).get("payment_method")
    if isinstance(method_id, dict):
        method_id = method_id.get("id")
    if not method_id:
        return None
    if method_id == config.payment_method_id:
        return config
    card = client.v1.payment_methods.retrieve(method_id).to_dict().get("card") or {}
    AutoTopUp.objects.filter(pk=config.pk).update(
        payment_method_id=method_id,
        card_brand=str(card.get("brand") or "")[:30],
        card_last4=str(card.get("last4") or "")[:4],
        failures=0,
        notice="",
        updated_at=timezone.now(),
    )
    config.refresh_from_db()
    return config


def auto_topup_settings_set(
    *, user_id: int, enabled: bool, threshold: int, dollars: int
) -> AutoTopUp:
    """Turn auto top-up on or off, with its threshold (µcr) and amount (whole dollars)."""
    dollars = validate_dollars(dollars)
    if threshold < 0:
        raise ValueError("The threshold cannot be negative.")
    config = auto_topup_for(user_id=user_id)
    if enabled and not config.has_card:
        raise ServiceError("Save a card first: auto top-up charges it.")
    config.enabled = enabled
    config.threshold = threshold
    config.amount_cents = dollars * 100
    fields = ["enabled", "threshold", "amount_cents", "updated_at"]
    if enabled:
        config.failures, config.notice = 0, ""
        fields += ["failures", "notice"]
    config.save(update_fields=fields)
    return config


def auto_topup_close_account(*, user_id: int) -> str:
    """The user deleted their account: auto top-up goes off and the card is forgotten in the
    caller's transaction (nothing can charge it from the moment the deletion commits); after the
    commit the card is detached from the Stripe customer and the customer deleted at Stripe
    (the task retries while Stripe cannot be reached)."""
    config = AutoTopUp.objects.select_for_update().filter(user_id=user_id).first()
    if config is None:
        return ""
    customer_id, method_id = config.customer_id, config.payment_method_id
    AutoTopUp.objects.filter(pk=config.pk).update(
        enabled=False,
        customer_id="",
        payment_method_id="",
        card_brand="",
        card_last4="",
        notice="",
        updated_at=timezone.now(),
    )
    if customer_id or method_id:
        enqueue_on_commit("apps.billing.tasks.stripe_customer_forget", customer_id, method_id)
    return customer_id


def stripe_customer_forget(*, customer_id: str, payment_method_id: str) -> str:
    """Detach a deleted account's card and delete its Stripe customer (Stripe then keeps no
    name, e-mail or card of theirs usable by us). Already gone counts as done."""
    if not settings.STRIPE_SECRET_KEY:
        return "stripe off"
    client = stripe_client()
    done = []
    try:
        if payment_method_id:
            client.v1.payment_methods.detach(payment_method_id)
            done.append("card detached")
    except stripe.InvalidRequestError as exc:  # not attached any more, or no such card
        log.info("card %s of a deleted account: %s", payment_method_id, exc.user_message)
    try:
        if customer_id:
            client.v1.customers.delete(customer_id)
            done.append("customer deleted")
    except stripe.InvalidRequestError as exc:  # deleted before
        log.info("customer %s of a deleted account: %s", customer_id, exc.user_message)
    return ", ".join(done) or "nothing left at Stripe"


def auto_topups_due() -> list[int]:
    """Active users with auto top-up on, a saved card, and a balance below their threshold."""
    balance = Account.objects.filter(user_id=OuterRef("user_id")).values("balance")[:1]
    return list(
        AutoTopUp.objects.filter(enabled=True, user__is_active=True)
        .exclude(payment_method_id="")
        .annotate(balance=Subquery(balance))
        .filter(balance__lt=F("threshold"))
        .values_list("user_id", flat=True)
    )


CHARGED = [
    AutoTopUpAttempt.Status.STARTED,
    AutoTopUpAttempt.Status.SUCCEEDED,
    AutoTopUpAttempt.Status.PROCESSING,
]


def auto_topup_run(*, user_id: int) -> AutoTopUpAttempt | None:
    """Charge the saved card once for the account's current dip below its threshold.

    The dip is named by the account's last credit (ledger entry) and the failed charges so far,
    and
    that name is the Stripe idempotency key: concurrent runs (serialised on the settings row)
    and retries of a run that died after Stripe answered make one PaymentIntent. Network and
    API errors roll everything back and raise (the task retries with the same key)."""
    now = timezone.now()
    with transaction.atomic():
        config = AutoTopUp.objects.select_for_update().filter(user_id=user_id, enabled=True).first()
        if config is None or not config.has_card:
            return None
        # Under the settings row's lock, which account deletion takes too: a deleted (inactive)
        # user's card is never charged, whatever queued this run before the deletion.
        if not get_user_model().objects.filter(pk=user_id, is_active=True).exists():
            return None
        account = Account.objects.filter(user_id=user_id).first()
        if account is None or account.suspended or account.balance >= config.threshold:
            return None  # nothing to do (or a payment dispute is open: charge nothing more)
        last_credit = (
            LedgerEntry.objects.filter(account_id=account.pk, amount__gt=0)
            .order_by("-id")
            .values_list("id", flat=True)
            .first()
        )
        key = f"opencodex-autotopup-{user_id}-{last_credit or 0}-{config.failed_total}"
        done = AutoTopUpAttempt.objects.filter(idempotency_key=key).first()
        if done is not None:
            return done  # this dip was charged (or is being paid) already
        mine = AutoTopUpAttempt.objects.filter(user_id=user_id)
        if (
            config.failures
            and mine.filter(
                created_at__gt=now - timedelta(seconds=settings.AUTO_TOPUP_RETRY_SECONDS)
            )
            .exclude(status__in=CHARGED)
            .exists()
        ):
            return None  # a charge failed recently: wait before trying the card again
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        today = mine.filter(created_at__gte=day)
        if today.filter(status__in=CHARGED).count() >= settings.AUTO_TOPUP_DAILY_CAP:
            capped = today.filter(status=AutoTopUpAttempt.Status.CAPPED).first()
            return capped or AutoTopUpAttempt.objects.create(
                user_id=user_id,
                amount_cents=config.amount_cents,
                balance=account.balance,
                status=AutoTopUpAttempt.Status.CAPPED,
                error=f"{settings.AUTO_TOPUP_DAILY_CAP} automatic charges today: the daily cap.",
            )
        dollars = config.amount_cents // 100
        payment = Payment.objects.create(
            user_id=user_id,
            amount_cents=config.amount_cents,
            currency=settings.STRIPE_CURRENCY,
            credits=dollars * CREDITS_PER_DOLLAR * MICRO,
            automatic=True,
        )
        attempt = AutoTopUpAttempt.objects.create(
            user_id=user_id,
            idempotency_key=key,
            payment=payment,
            amount_cents=config.amount_cents,
            balance=account.balance,
        )
        try:
            intent = (
                stripe_client()
                .v1.payment_intents.create(
                    params={
                        "amount": config.amount_cents,
                        "currency": settings.STRIPE_CURRENCY,
                        "customer": config.customer_id,
                        "payment_method": config.payment_method_id,
                        "off_session": True,
                        "confirm": True,
                        "description": f"{dollars * CREDITS_PER_DOLLAR:,} OpenCodex credits "
                        "(auto top-up)",
                        "metadata": {"user_id": str(user_id), "auto_topup": key},
                    },
                    options={"idempotency_key": key},
                )
                .to_dict()
            )
        except stripe.CardError as exc:
            intent = ((exc.json_body or {}).get("error") or {}).get("payment_intent") or {}
            _auto_topup_failed(config, attempt, payment, intent, code=exc.code, error=str(exc))
            return attempt
        payment.payment_intent_id = intent["id"]
        payment.save(update_fields=["payment_intent_id"])
        attempt.payment_intent_id = intent["id"]
        status = intent.get("status")
        if status == "succeeded":
            attempt.save(update_fields=["payment_intent_id"])
            payment_intent_fulfil(intent=intent)
            attempt.refresh_from_db()
            return attempt
        if status == "processing":
            attempt.status = AutoTopUpAttempt.Status.PROCESSING
            payment.status = Payment.Status.PENDING
            payment.save(update_fields=["status"])
            attempt.save(update_fields=["payment_intent_id", "status"])
            return attempt
        _auto_topup_failed(
            config,
            attempt,
            payment,
            intent,
            code="authentication_required" if status == "requires_action" else status,
            error=f"The payment is {status}.",
        )
        return attempt


def _auto_topup_failed(config, attempt, payment, intent: dict, *, code, error: str) -> None:
    """A declined card, or one that needs its owner: count it, tell the user, and turn auto
    top-up off when retrying cannot help (authentication) or after too many failures."""
    auth = code == "authentication_required"
    attempt.status = (
        AutoTopUpAttempt.Status.AUTHENTICATION_REQUIRED
        if auth
        else AutoTopUpAttempt.Status.DECLINED
        if code == "card_declined"
        else AutoTopUpAttempt.Status.FAILED
    )
    attempt.error = error[:2000]
    attempt.payment_intent_id = str(intent.get("id") or "")
    attempt.save(update_fields=["status", "error", "payment_intent_id"])
    payment.status, payment.error = Payment.Status.FAILED, error[:2000]
    payment.payment_intent_id = attempt.payment_intent_id
    payment.save(update_fields=["status", "error", "payment_intent_id"])
    config.failures += 1
    config.failed_total += 1
    turned_off = auth or config.failures >= settings.AUTO_TOPUP_MAX_FAILURES
    if turned_off:
        config.enabled = False
        config.notice = (
            "Auto top-up was turned off: your card needs you to confirm payments."
            if auth
            else f"Auto top-up was turned off after {config.failures} failed charges."
        )
    config.save(update_fields=["failures", "failed_total", "enabled", "notice", "updated_at"])
    email = config.user.email
    transaction.on_commit(
        lambda: send_mail(
            "[OpenCodex] Your automatic top-up failed",
            f"We could not charge your saved card "
            f"({config.card_brand} ending {config.card_last4}) for the automatic top-up of "
            f"${attempt.amount_cents / 100:,.2f}: {error}\n\n"
            + ("Auto top-up is now turned off.\n" if turned_off else "We will try again later.\n")
            + f"Fix it by saving a card again at {settings.SITE_URL}/billing/\n",
            None,
            [email],
        )
    )


def payment_intent_fulfil(*, intent: dict) -> str:
    """Credit a succeeded auto top-up once, keyed by its PaymentIntent (the webhook and the
    charging run may both call it, in any order, any number of times). A Checkout payment's
    PaymentIntent is left to its session's fulfilment."""
    intent_id = str(intent.get("id") or "")
    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update()
            .filter(payment_intent_id=intent_id, automatic=True)
            .first()
            if intent_id
            else None
        )
        if payment is None:
            if (intent.get("metadata") or {}).get("auto_topup"):
                raise NotYetFulfilled(f"auto top-up {intent_id!r} not recorded yet")
            return "not an auto top-up: Checkout payments are credited by their session"
        if payment.status in CREDITED or payment.status == Payment.Status.MISMATCH:
            return f"payment {payment.status}"
        if intent.get("status") != "succeeded":
            return f"payment intent {intent.get('status')}"
        amount = intent.get("amount_received") or intent.get("amount")
        currency = str(intent.get("currency", "")).lower()
        if amount != payment.amount_cents or currency != payment.currency:
            payment.status = Payment.Status.MISMATCH
            payment.error = (
                f"Stripe reported {amount} {currency}, the payment was for "
                f"{payment.amount_cents} {payment.currency}: nothing credited."
            )
            payment.save(update_fields=["status", "error"])
            return f"{MISMATCH}: {payment.error}"
        credits_grant(
            user_id=payment.user_id,
            amount=payment.credits,
            kind=Kind.TOPUP,
            reference=f"stripe:{intent_id}",
            memo=f"Auto top-up ${payment.amount_dollars}",
        )
        payment.status = Payment.Status.PAID
        payment.paid_at = timezone.now()
        charge = intent.get("latest_charge")
        if isinstance(charge, dict) and charge.get("receipt_url"):
            payment.receipt_url = charge["receipt_url"]
        payment.save(update_fields=["status", "paid_at", "receipt_url"])
        AutoTopUpAttempt.objects.filter(payment=payment).update(
            status=AutoTopUpAttempt.Status.SUCCEEDED
        )
        AutoTopUp.objects.filter(user_id=payment.user_id).update(failures=0)
        payment_id = payment.pk
        transaction.on_commit(lambda: _invoice_later(payment_id))
        return "payment paid"


def _invoice_later(payment_id: int) -> None:
    """Queue the invoice; the credit is committed already and never waits for (or fails
    with) Stripe's invoice calls."""
    from .tasks import auto_topup_invoice

    try:
        auto_topup_invoice.delay(payment_id)
    except Exception:
        log.exception("the invoice of payment %s could not be queued", payment_id)


def auto_topup_invoice_create(*, payment_id: int) -> str:
    """The Stripe invoice of a paid auto top-up (Checkout makes its own): an invoice item, an
    invoice for it, finalized and marked paid out of band (the PaymentIntent paid it), so the
    customer gets a numbered invoice with the billing details Stripe holds. Idempotent: every
    call uses keys derived from the payment, and a payment with its invoice is left alone."""
    payment = Payment.objects.select_related("user").get(pk=payment_id)
    if payment.invoice_id:
        return "invoice exists"
    if not payment.automatic or payment.status != Payment.Status.PAID:
        return "not a paid auto top-up"
    config = auto_topup_for(user_id=payment.user_id)
    if not config.customer_id:
        return "no Stripe customer"
    client = stripe_client()
    key = f"opencodex-invoice-{payment.pk}"
    client.v1.invoice_items.create(
        params={
            "customer": config.customer_id,
            "amount": payment.amount_cents,
            "currency": payment.currency,
            "description": f"{payment.credits // MICRO:,} OpenCodex credits (auto top-up)",
            "metadata": {"payment_id": str(payment.pk)},
        },
        options={"idempotency_key": f"{key}-item"},
    )
    invoice = client.v1.invoices.create(
        params={
            "customer": config.customer_id,
            "currency": payment.currency,
            "auto_advance": False,
            "collection_method": "charge_automatically",
            "pending_invoice_items_behavior": "include",
            "metadata": {
                "payment_id": str(payment.pk),
                "payment_intent": payment.payment_intent_id,
            },
        },
        options={"idempotency_key": f"{key}-invoice"},
    )
    invoice = client.v1.invoices.finalize_invoice(
        invoice.id, options={"idempotency_key": f"{key}-finalize"}
    )
    if invoice.status != "paid":
        invoice = client.v1.invoices.pay(
            invoice.id,
            params={"paid_out_of_band": True},
            options={"idempotency_key": f"{key}-pay"},
        )
    _invoice_store(payment, invoice.to_dict())
    return "invoice created"


def payment_intent_failed(*, intent: dict) -> str:
    updated = Payment.objects.filter(
        payment_intent_id=str(intent.get("id") or ""),
        automatic=True,
        status__in=[Payment.Status.CREATED, Payment.Status.PENDING],
    ).update(status=Payment.Status.FAILED)
    return "payment failed" if updated else "nothing to update"


# --- monthly budget alerts --------------------------------------------------------------------


def budget_alerts_send(*, now=None) -> int:
    """E-mail each account whose spending this month passed 50 %, 80 % or 100 % of its monthly
    budget: each level once per month (a unique row claims it). One e-mail per run and account
    names the highest level newly passed. Returns how many e-mails were sent."""
    month = month_of(now or timezone.now())
    levels = sorted(settings.BUDGET_ALERT_LEVELS)
    accounts = (
        Account.objects.filter(monthly_budget__gt=0, user__is_active=True)
        .alias(spent_pct=F("month_spent") * 100)
        .filter(
            Q(budget_month=month, month_spent__gt=0, spent_pct__gte=F("monthly_budget") * levels[0])
            | Q(budget_reached_month=month)
        )
        .select_related("user")
    )
    sent = 0
    for account in accounts:
        spent, budget = account.spent_in(month), account.monthly_budget
        # A request refused for the budget means it is used up, though the holds stopped
        # spending just short of it.
        reached = account.budget_reached_month == month
        passed = [lvl for lvl in levels if spent * 100 >= budget * lvl or reached]
        new = []
        for level in passed:
            try:
                with transaction.atomic():
                    BudgetAlert.objects.create(account=account, month=month, level=level)
            except IntegrityError:
                continue  # sent before
            new.append(level)
        if new:
            _send_budget_alert(account, max(new))
            sent += 1
    return sent


def _send_budget_alert(account: Account, level: int) -> None:
    reached = level >= 100
    send_mail(
        f"[OpenCodex] {level}% of your monthly budget used",
        f"This month your API usage has cost {format_credits(account.month_spent)} credits, "
        f"{level}% of your monthly budget of {format_credits(account.monthly_budget)} credits.\n\n"
        + (
            "API requests are refused until next month (UTC) or until you raise the budget.\n"
            if reached
            else ""
        )
        + f"Change the budget at {settings.SITE_URL}/billing/\n",
        None,
        [account.user.email],
    )
