"""The playground's credential: an ordinary API key of the user, marked as the playground's, that
lives an hour. Its secret never leaves the server: it is kept in the cache, sealed with a key that
is not in the cache (apps/core/sealed.py), until the key expires and a fresh key replaces it
after (the previous one is revoked)."""

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from apps.audit import services as audit
from apps.core.sealed import seal, unseal
from apps.keys.services import api_key_create, api_key_revoke
from apps.webhooks import events as webhook_events

from .models import PlaygroundKey

log = logging.getLogger("opencodex.console")

PLAYGROUND_KEY_NAME = "Playground"
# A key this close to its expiry is replaced before use, so a request never starts on a key
# about to stop working.
RENEW_MARGIN = 300  # seconds
SEAL_PURPOSE = "playground-key"


@dataclass(frozen=True)
class PlaygroundCredential:
    key_id: int
    secret: str
    expires_at: float  # unix time


def _cache_key(user_id: int, person_id: int | None = None) -> str:
    if person_id is None or person_id == user_id:
        return f"console:playground:{user_id}"
    return f"console:playground:{user_id}:{person_id}"


def _cached(user_id: int, person_id: int | None = None) -> PlaygroundCredential | None:
    """The kept credential, when there is one not about to expire."""
    try:
        cached = cache.get(_cache_key(user_id, person_id))
    except Exception:  # a cache outage costs a fresh key, never the playground
        log.warning("playground: cache unavailable, minting a key", exc_info=True)
        return None
    if not cached or cached["expires_at"] - RENEW_MARGIN <= time.time():
        return None
    secret = unseal(cached.get("sealed"), purpose=SEAL_PURPOSE)
    if secret is None:
        return None
    return PlaygroundCredential(cached["key_id"], secret, cached["expires_at"])


def playground_key_get(
    *, user_id: int, person_id: int | None = None, spend_cap_id: int | None = None
) -> PlaygroundCredential:
    """The user's current playground credential, minting one when there is none (or it is about
    to expire). In an organization ``user_id`` is its principal (the account) and
    ``person_id`` the member using the playground, whose spend cap the key shares."""
    return _cached(user_id, person_id) or playground_key_mint(
        user_id=user_id, person_id=person_id, spend_cap_id=spend_cap_id, reuse=True
    )


def playground_key_mint(
    *,
    user_id: int,
    person_id: int | None = None,
    spend_cap_id: int | None = None,
    reuse: bool = False,
) -> PlaygroundCredential:
    """A new playground key for the user (and person, in an organization); the previous ones
    still usable are revoked. Raises the keys app's ``ServiceError``s (e.g. the user has as many
    active keys as allowed).

    Mints are serialised on the person's row: concurrent first uses of the playground wait for
    the first one and (``reuse``) take the key it kept, so one live playground key exists."""
    from django.contrib.auth import get_user_model

    person_id = person_id or user_id
    now = timezone.now()
    lifetime = settings.PLAYGROUND_KEY_SECONDS
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=person_id).first()
        if reuse and (kept := _cached(user_id, person_id)) is not None:
            return kept  # minted while this request waited for the lock
        live = PlaygroundKey.objects.filter(
            api_key__user_id=user_id, api_key__revoked_at__isnull=True, api_key__expires_at__gt=now
        )
        if person_id != user_id:
            live = live.filter(api_key__created_by_id=person_id)
        live = live.values_list("api_key_id", flat=True)
        # The playground's keys come and go by the hour: not the customer's keys to be told of.
        with webhook_events.muted(), audit.muted():
            for key_id in list(live):
                api_key_revoke(user_id=user_id, key_id=key_id, actor_id=person_id)
            key, secret = api_key_create(
                user_id=user_id,
                name=PLAYGROUND_KEY_NAME,
                expires_at=now + timedelta(seconds=lifetime),
                actor_id=person_id,
                created_by_id=person_id,
                spend_cap_id=spend_cap_id,
            )
        PlaygroundKey.objects.create(api_key=key, created_at=now)
        credential = PlaygroundCredential(
            key_id=key.pk, secret=secret, expires_at=key.expires_at.timestamp()
        )
        try:  # kept before the lock is released, so whoever waited finds it
            cache.set(
                _cache_key(user_id, person_id),
                {
                    "key_id": key.pk,
                    "sealed": seal(secret, purpose=SEAL_PURPOSE),  # never the secret itself
                    "expires_at": credential.expires_at,
                },
                timeout=lifetime,
            )
        except Exception:
            log.warning("playground: cache unavailable, key not kept", exc_info=True)
    return credential


def playground_key_forget(*, user_id: int, person_id: int | None = None) -> None:
    """Drop the kept credential (the gateway refused it: revoked or expired on the keys page)."""
    try:
        cache.delete(_cache_key(user_id, person_id))
    except Exception:
        log.warning("playground: cache unavailable", exc_info=True)
