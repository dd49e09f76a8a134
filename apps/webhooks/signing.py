"""The Standard Webhooks scheme (https://www.standardwebhooks.com/): each request carries
``webhook-id`` (the delivery's id, the same on every retry), ``webhook-timestamp`` (Unix seconds
of this attempt) and ``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` of ``{id}.{timestamp}.
{body}`` under the secret's bytes, one per secret in force, separated by spaces. A secret is
``whsec_`` and the base64 of 32 random bytes."""

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 (the scheme's prefix, not a secret)
USER_AGENT = "OpenCodex-Webhooks/1.0"


def secret_new() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def message_id_new() -> str:
    return "msg_" + secrets.token_hex(16)


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, *, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secrets_: list[str], *, message_id: str, timestamp: int, body: bytes) -> dict:
    """The request's headers, signed with every secret in ``secrets_`` (the current one first,
    then one rolled away that still counts)."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(secret, message_id=message_id, timestamp=timestamp, body=body)
            for secret in secrets_
        ),
    }
