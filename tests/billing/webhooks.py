"""Stripe webhook payloads for tests, signed with Stripe's real scheme."""

import hashlib
import hmac
import secrets
import time

WEBHOOK_SECRET = "whsec_test_standin_secret"


def event(kind: str, obj: dict, event_id: str | None = None) -> dict:
    return {
        "id": event_id or f"evt_{secrets.token_hex(10)}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "livemode": False,
        "type": kind,
        "data": {"object": obj},
    }


def sign(body: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """Stripe's scheme: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the secret>."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def deliver_outbox(client=None, *, only: set[str] | None = None) -> list[tuple[str, int, str]]:
    """Deliver, signed, every event the Stripe stand-in queued (or those of the ``only`` types;
    the rest stay queued), in order, to the webhook: [(type, status, body)]."""
    import json

    from django.test import Client

    from . import stripe_standin

    client = client or Client()
    delivered = []
    for queued in list(stripe_standin.outbox):
        if only is not None and queued["type"] not in only:
            continue
        stripe_standin.outbox.remove(queued)
        body = json.dumps(queued).encode()
        response = client.generic(
            "POST",
            "/billing/stripe/webhook/",
            body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=sign(body),
        )
        delivered.append((queued["type"], response.status_code, response.content.decode()))
    return delivered
