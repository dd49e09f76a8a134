"""Secrets that must sit briefly in the shared cache (a new key's secret until its page shows
it, the playground's key) are kept there sealed: encrypted and authenticated (Fernet) with a key
derived from ``SECRET_KEY`` for one purpose. The cache (Redis) never holds the key, so what it
holds reveals nothing and cannot be forged."""

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet(purpose: str) -> Fernet:
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"opencodex-sealed:{purpose}".encode(), hashlib.sha256
    ).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(value: str, *, purpose: str) -> str:
    return _fernet(purpose).encrypt(value.encode()).decode()


def unseal(token, *, purpose: str) -> str | None:
    """The sealed value, or None when ``token`` is not one sealed for ``purpose`` here."""
    if not isinstance(token, str):
        return None
    try:
        return _fernet(purpose).decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None
