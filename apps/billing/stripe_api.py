"""What every part of billing shares: whether Stripe is configured, the Stripe client, a valid
top-up amount, and the few facts about a payment's state the checkout, the webhooks and auto
top-up all read. 1 credit = US$0.01, so a top-up of N dollars buys N × 100 credits."""

import stripe
from django.conf import settings

from apps.core.errors import ServiceError

from .models import Payment

MISMATCH = "amount mismatch"


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


# Raised by the webhook's handlers and by auto top-up's fulfilment, so it lives below both.
class NotYetFulfilled(Exception):
    """The money event is about a payment we have not credited yet: Stripe delivers it again."""


CREDITED = {"paid", "partially_refunded", "refunded", "disputed"}


def invoice_store(payment: Payment, invoice: dict) -> None:
    """Link a Stripe invoice (its id, page and PDF) to the payment it is for."""
    payment.invoice_id = str(invoice.get("id") or "")
    payment.invoice_url = invoice.get("hosted_invoice_url") or ""
    payment.invoice_pdf = invoice.get("invoice_pdf") or ""
    payment.save(update_fields=["invoice_id", "invoice_url", "invoice_pdf"])
