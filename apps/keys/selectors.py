import hmac
from dataclasses import dataclass, field

from django.utils import timezone

from . import tokens
from .models import ApiKey, ApiKeyEvent


@dataclass(frozen=True)
class KeyCheck:
    """The answer to "may this string be used as a key?": the key, or why not."""

    key: ApiKey | None
    reason: str | None = None  # malformed, checksum, unknown, revoked, expired
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.key is not None and self.reason is None


def api_key_verify(*, presented: str, now=None) -> KeyCheck:
    """Check a presented key: format and checksum offline, then one indexed query by digest."""
    presented = (presented or "").strip()
    try:
        tokens.check_format(presented)
    except tokens.FormatError as exc:
        return KeyCheck(None, exc.reason, exc.message)
    digest = tokens.digest(presented)
    key = ApiKey.objects.filter(digest=digest).first()
    if key is None or not hmac.compare_digest(key.digest, digest):
        return KeyCheck(None, "unknown", "Invalid API key: no such key.")
    status = key.status_at(now or timezone.now())
    if status == "revoked":
        return KeyCheck(None, "revoked", "This API key has been revoked.")
    if status == "expired":
        return KeyCheck(None, "expired", "This API key has expired.")
    return KeyCheck(key)


def api_keys_for_user(*, user_id: int) -> list[ApiKey]:
    """Active keys first, newest first within each group."""
    now = timezone.now()
    keys = list(
        ApiKey.objects.filter(user_id=user_id)
        .select_related("successor", "budget_key", "created_by", *playground_relation())
        .order_by("-created_at")
    )
    # The playground's keys come and go by the hour: only the live one is listed (marked, so
    # the list offers no Rotate/Revoke for it: the console manages it).
    keys = [k for k in keys if k.status_at(now) == "active" or not is_playground(k)]
    for k in keys:
        k.internal = is_playground(k)
    return sorted(keys, key=lambda k: k.status_at(now) != "active")


REVOKED_LISTED_DAYS = 30


def split_old_revoked(keys: list[ApiKey], *, now=None) -> tuple[list[ApiKey], int]:
    """The keys to list by default and how many were left out: keys revoked more than
    ``REVOKED_LISTED_DAYS`` ago are shown only on request ("show revoked")."""
    from datetime import timedelta

    cutoff = (now or timezone.now()) - timedelta(days=REVOKED_LISTED_DAYS)
    shown = [k for k in keys if k.revoked_at is None or k.revoked_at > cutoff]
    return shown, len(keys) - len(shown)


def playground_relation() -> tuple[str, ...]:
    """The console app marks the keys it mints for the playground (a reverse one-to-one)."""
    return ("playground",) if hasattr(ApiKey, "playground") else ()


def is_playground(key: ApiKey) -> bool:
    return bool(playground_relation()) and getattr(key, "playground", None) is not None


def api_key_first_steps(*, user_id: int) -> dict:
    """Where a new user is on the way to a first API call (the dashboard shows the next step),
    and how many keys are at their credit limit: one query."""
    from django.db.models import Count, F, Q

    now = timezone.now()
    at_limit = (
        Q(revoked_at__isnull=True, budget_key__isnull=True, credit_limit__isnull=False)
        & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        & Q(spent__gte=F("credit_limit"))
    )
    counts = ApiKey.objects.filter(user_id=user_id).aggregate(
        keys=Count("id"),
        used=Count("id", filter=Q(last_used_at__isnull=False)),
        at_limit=Count("id", filter=at_limit),
    )
    return {
        "has_keys": counts["keys"] > 0,
        "has_used_key": counts["used"] > 0,
        # Keys that have spent their whole credit limit: the API refuses them (402).
        "keys_at_limit": counts["at_limit"],
    }


def api_key_for_user(*, user_id: int, key_id: int) -> ApiKey:
    """The user's key or ``ApiKey.DoesNotExist`` (someone else's key is not there at all)."""
    return ApiKey.objects.select_related("rotated_from", "budget_key").get(
        pk=key_id, user_id=user_id
    )


def api_key_window(*, key: ApiKey, time_zone: str, now=None) -> dict | None:
    """The key's spend limit in its current window (None without one): the limit, what the
    line spent in the window so far and when the next window starts, in the owner's zone."""
    from . import windows

    budget = key.budget
    if budget.spend_limit is None or not budget.spend_window:
        return None
    now = now or timezone.now()
    start = windows.starts(time_zone, now).of(budget.spend_window)
    counted = budget.window_start is not None and budget.window_start >= start
    spent = budget.window_spent if counted else 0
    return {
        "limit": budget.spend_limit,
        "window": budget.spend_window,
        "spent": spent,
        "left": max(budget.spend_limit - spent, 0),
        "resets_at": windows.next_start(budget.spend_window, time_zone, now),
        "time_zone": str(windows.zone(time_zone)),
    }


def api_key_events(*, key_id: int) -> list[ApiKeyEvent]:
    return list(ApiKeyEvent.objects.filter(key_id=key_id).select_related("actor"))


# What requests through some keys were charged since a moment (for a spend window that starts
# counting mid-window): each source is ``(key_ids=[...], since=datetime) -> µcr``. apps.usage
# registers its request records.
SPEND_SOURCES: list = []


@dataclass(frozen=True)
class KeyFacts:
    """What the gateway needs to know about a key, small enough to cache as JSON (every field
    has a default but the first few, so facts cached before a field existed still load)."""

    id: int
    user_id: int
    account_id: int | None
    rpm_limit: int | None
    credit_limit: int | None
    expires_at: float | None  # unix time
    revoked: bool
    budget_key_id: int | None = None  # the key carrying the credit limit, when not this one
    store_days: int = 0  # the owner keeps prompts and answers this many days (0: not at all)
    # Guardrails: tokens per minute, the spend limit of a window (on the budget key), the
    # models and the client networks allowed (empty: all), the owner's time zone (windows).
    tpm_limit: int | None = None
    spend_limit: int | None = None
    spend_window: str = ""
    models: list = field(default_factory=list)
    networks: list = field(default_factory=list)
    time_zone: str = "UTC"
    # The spend cap the key shares (an organization member's: credits.SpendCap): its monthly
    # limit (None: none; the hold checks it as the database has it) and its models (empty: all).
    cap_id: int | None = None
    cap_limit: int | None = None
    cap_models: list = field(default_factory=list)

    @property
    def budget_id(self) -> int:
        return self.budget_key_id or self.id

    @property
    def limited(self) -> bool:
        """Whether a hold also reserves on the key (a credit limit or a spend limit)."""
        return self.credit_limit is not None or self.spend_limit is not None

    def model_allowed(self, model: str) -> bool:
        """Allowed by the key's own models and by its cap's (both, where both have a list)."""
        return (not self.models or model in self.models) and (
            not self.cap_models or model in self.cap_models
        )

    @property
    def restricted(self) -> bool:
        return bool(self.models or self.cap_models)

    @property
    def allowed_models(self) -> list:
        """The models the key may use (empty: all): both lists' intersection."""
        if not self.cap_models:
            return list(self.models)
        return [m for m in self.cap_models if not self.models or m in self.models]

    def problem_at(self, now: float) -> tuple[str, str] | None:
        """(reason, message) when the key must be refused at ``now``, else None."""
        if self.revoked:
            return "revoked", "This API key has been revoked."
        if self.expires_at is not None and self.expires_at <= now:
            return "expired", "This API key has expired."
        return None


def api_key_facts(*, digest: str) -> KeyFacts | None:
    """One indexed query by digest (with the owner's credit account)."""
    row = (
        ApiKey.objects.filter(digest=digest, user__is_active=True)
        .values(
            "id",
            "user_id",
            "user__credit_account__id",
            "rpm_limit",
            "credit_limit",
            "budget_key_id",
            "budget_key__credit_limit",
            "expires_at",
            "revoked_at",
            "user__store_content_days",
            "user__time_zone",
            "tpm_limit",
            "spend_limit",
            "spend_window",
            "budget_key__spend_limit",
            "budget_key__spend_window",
            "allowed_models",
            "allowed_ips",
            "spend_cap_id",
            "spend_cap__monthly_limit",
            "spend_cap__allowed_models",
        )
        .first()
    )
    if row is None:
        return None
    budget = "budget_key__" if row["budget_key_id"] else ""
    return KeyFacts(
        id=row["id"],
        user_id=row["user_id"],
        account_id=row["user__credit_account__id"],
        rpm_limit=row["rpm_limit"],
        credit_limit=row["budget_key__credit_limit"]
        if row["budget_key_id"]
        else row["credit_limit"],
        budget_key_id=row["budget_key_id"],
        expires_at=row["expires_at"].timestamp() if row["expires_at"] else None,
        revoked=row["revoked_at"] is not None,
        store_days=row["user__store_content_days"],
        tpm_limit=row["tpm_limit"],
        spend_limit=row[f"{budget}spend_limit"],
        spend_window=row[f"{budget}spend_window"] or "",
        models=row["allowed_models"] or [],
        networks=row["allowed_ips"] or [],
        time_zone=row["user__time_zone"] or "UTC",
        cap_id=row["spend_cap_id"],
        cap_limit=row["spend_cap__monthly_limit"],
        cap_models=row["spend_cap__allowed_models"] or [],
    )
