"""A saved card and auto top-up: the card saved through a setup-mode Checkout, the settings,
the charging run (one PaymentIntent per dip below the threshold), its fulfilment, and the Stripe
invoice of a paid automatic top-up (queued by the task's name: services never import tasks)."""

from datetime import timedelta

import stripe
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit import services as audit
from apps.core.errors import ServiceError
from apps.core.i18n import language_of, language_of_recipient
from apps.core.money import CREDITS_PER_DOLLAR, MICRO
from apps.core.queue import enqueue_on_commit
from apps.core.recipients import account_recipients
from apps.credits.models import Account, LedgerEntry
from apps.credits.services import credits_grant
from apps.webhooks import events as webhook_events

from .checkout import CHECKOUT_LOCALES
from .models import AutoTopUp, AutoTopUpAttempt, Payment
from .referrals import referral_commission_post
from .stripe_api import (
    CREDITED,
    MISMATCH,
    NotYetFulfilled,
    TopUpsOff,
    invoice_store,
    stripe_client,
    stripe_enabled,
    validate_dollars,
)

Kind = LedgerEntry.Kind


def auto_topup_for(*, user_id: int) -> AutoTopUp:
    settings_, _created = AutoTopUp.objects.get_or_create(user_id=user_id)
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
                params={
                    "email": (account_recipients(user, "billing") or [user.email])[0],
                    "metadata": {"user_id": str(user.pk)},
                    # Stripe's invoices and receipts in the user's language.
                    "preferred_locales": [CHECKOUT_LOCALES.get(language_of(user), "en")],
                },
                options={"idempotency_key": f"opencodex-customer-{user.pk}"},
            )
            AutoTopUp.objects.filter(pk=config.pk, customer_id="").update(customer_id=customer.id)
            config.refresh_from_db()
        session = client.v1.checkout.sessions.create(
            params={
                "mode": "setup",
                # Only a card can be saved for off-session charges (Alipay and WeChat Pay
                # cannot), so auto top-up is card-only.
                "payment_method_types": ["card"],
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


def card_setup_complete(*, session: dict, actor=None, ip: str | None = None) -> AutoTopUp | None:
    """Keep the card a completed setup-mode Checkout saved: Stripe's payment method id, its
    brand and last 4 digits. Safe to call from the return page and the webhook, in any order
    (``actor``, ``ip``: the user on the return page, for the audit log)."""
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
    before = _card(config)
    with transaction.atomic():
        saved = AutoTopUp.objects.filter(pk=config.pk).exclude(payment_method_id=method_id)
        saved = saved.update(
            payment_method_id=method_id,
            card_brand=str(card.get("brand") or "")[:30],
            card_last4=str(card.get("last4") or "")[:4],
            failures=0,
            notice="",
            updated_at=timezone.now(),
        )
        config.refresh_from_db()
        if saved:  # not already saved by the other caller
            audit.record(
                account_id=config.user_id,
                actor=actor,
                action="card.saved",
                before={"card": before} if before else None,
                after={"card": _card(config)},
                ip=ip,
                actor_label="Stripe",
            )
    return config


def _card(config: AutoTopUp) -> str:
    """``visa •••• 4242``: how the audit log names a saved card (never more of it)."""
    if not config.payment_method_id:
        return ""
    return f"{config.card_brand} •••• {config.card_last4}".strip()


def auto_topup_settings_set(
    *, user_id: int, enabled: bool, threshold: int, dollars: int, actor=None, ip=None
) -> AutoTopUp:
    """Turn auto top-up on or off, with its threshold (µcr) and amount (whole dollars)."""
    dollars = validate_dollars(dollars)
    if threshold < 0:
        raise ValueError("The threshold cannot be negative.")
    config = auto_topup_for(user_id=user_id)
    if enabled and not config.has_card:
        raise ServiceError("Save a card first: auto top-up charges it.")
    before = {"enabled": config.enabled, "threshold": config.threshold}
    before["dollars"] = config.amount_cents // 100
    config.enabled = enabled
    config.threshold = threshold
    config.amount_cents = dollars * 100
    fields = ["enabled", "threshold", "amount_cents", "updated_at"]
    if enabled:
        config.failures, config.notice = 0, ""
        fields += ["failures", "notice"]
    with transaction.atomic():
        config.save(update_fields=fields)
        before, after = audit.changes(
            before, {"enabled": enabled, "threshold": threshold, "dollars": dollars}
        )
        if after:
            audit.record(
                account_id=user_id,
                actor=actor,
                action="auto_topup.changed",
                before=before,
                after=after,
                ip=ip,
            )
    return config


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
    webhook_events.auto_topup_failed(attempt, currency=payment.currency, still_on=config.enabled)
    user = config.user
    transaction.on_commit(
        lambda: _send_failed(
            user=user,
            brand=config.card_brand,
            last4=config.card_last4,
            amount=f"${attempt.amount_cents / 100:,.2f}",
            error=error,
            turned_off=turned_off,
        )
    )


def _send_failed(
    *, user, brand: str, last4: str, amount: str, error: str, turned_off: bool
) -> None:
    """The e-mail of a failed automatic top-up, in the user's language."""
    with language_of_recipient(user):
        values = {"brand": brand, "last4": last4, "amount": amount, "error": error}
        values["url"] = f"{settings.SITE_URL}/billing/"
        subject = _("[OpenCodex] Your automatic top-up failed")
        body = (
            _(
                "We could not charge your saved card (%(brand)s ending %(last4)s) for the "
                "automatic top-up of %(amount)s: %(error)s"
            )
            % values
            + "\n\n"
            + (_("Auto top-up is now turned off.") if turned_off else _("We will try again later."))
            + "\n"
            + _("Fix it by saving a card again at %(url)s") % values
            + "\n"
        )
    send_mail(subject, body, None, account_recipients(user, "billing"))


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
            memo=f"Auto top-up {payment.amount_display}",
        )
        payment.status = Payment.Status.PAID
        payment.paid_at = timezone.now()
        charge = intent.get("latest_charge")
        if isinstance(charge, dict) and charge.get("receipt_url"):
            payment.receipt_url = charge["receipt_url"]
        payment.save(update_fields=["status", "paid_at", "receipt_url"])
        referral_commission_post(payment=payment)
        webhook_events.payment_succeeded(payment)
        audit.record(
            account_id=payment.user_id,
            action="topup.succeeded",
            target=f"stripe:{intent_id}",
            after={"amount": payment.amount_display, "credits": payment.credits},
            actor_label="Stripe",
        )
        AutoTopUpAttempt.objects.filter(payment=payment).update(
            status=AutoTopUpAttempt.Status.SUCCEEDED
        )
        AutoTopUp.objects.filter(user_id=payment.user_id).update(failures=0)
        # The invoice is queued once the credit commits: the credit never waits for (or fails
        # with) Stripe's invoice calls, and a broker that cannot take it is logged, not raised.
        enqueue_on_commit("apps.billing.tasks.auto_topup_invoice", payment.pk)
        return "payment paid"


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
    invoice_store(payment, invoice.to_dict())
    return "invoice created"


def payment_intent_failed(*, intent: dict) -> str:
    updated = Payment.objects.filter(
        payment_intent_id=str(intent.get("id") or ""),
        automatic=True,
        status__in=[Payment.Status.CREATED, Payment.Status.PENDING],
    ).update(status=Payment.Status.FAILED)
    return "payment failed" if updated else "nothing to update"
