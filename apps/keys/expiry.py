"""Keys that reached their expiry time are told to the account's webhooks (``key.expired``),
once each: nothing happens to a key when it expires, so a beat sweep looks for keys that
expired lately (``WEBHOOK_KEY_EXPIRY_LOOKBACK``) on accounts with an endpoint that is on."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from apps.webhooks import events as webhook_events
from apps.webhooks.selectors import users_with_endpoints

from .models import ApiKey
from .selectors import playground_relation


def api_keys_expired_notify(*, now: datetime | None = None) -> int:
    """Emit ``key.expired`` for each key that expired (not revoked before) since the lookback;
    repeated runs emit nothing new (each key's event has its reference). The playground's own
    keys are left out, as on the keys page. Returns how many keys were looked at."""
    now = now or timezone.now()
    since = now - timedelta(seconds=settings.WEBHOOK_KEY_EXPIRY_LOOKBACK)
    keys = ApiKey.objects.filter(
        Q(revoked_at__isnull=True) | Q(revoked_at__gt=F("expires_at")),
        expires_at__gt=since,
        expires_at__lte=now,
        user_id__in=users_with_endpoints(),
    )
    if playground_relation():
        keys = keys.filter(playground__isnull=True)
    keys = list(keys.order_by("expires_at", "id"))
    for key in keys:
        webhook_events.key_expired(key)
    return len(keys)
