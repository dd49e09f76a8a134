"""What billing forgets when a user deletes their account: the personal data in stored Stripe
events, the saved card and auto top-up (at once), and the Stripe customer (after the commit)."""

import logging

import stripe
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from apps.audit import services as audit
from apps.core.queue import enqueue_on_commit

from .models import AutoTopUp, BillingProfile, Payment, StripeEvent
from .stripe_api import stripe_client

log = logging.getLogger("opencodex.billing")

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


def auto_topup_close_account(*, user_id: int) -> str:
    """The user deleted their account: auto top-up goes off and the card is forgotten in the
    caller's transaction (nothing can charge it from the moment the deletion commits); after the
    commit the card is detached from the Stripe customer and the customer deleted at Stripe
    (the task retries while Stripe cannot be reached)."""
    config = AutoTopUp.objects.select_for_update().filter(user_id=user_id).first()
    if config is None:
        return ""
    customer_id, method_id = config.customer_id, config.payment_method_id
    if method_id:
        audit.record(
            account_id=user_id,
            action="card.removed",
            before={"card": f"{config.card_brand} •••• {config.card_last4}".strip()},
        )
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
