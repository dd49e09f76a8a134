"""What each event carries: the one-line hooks the services of keys and billing call inside
their transactions. They read the objects they are given (an API key, a payment...) without
importing those apps: this app sits below them (pyproject.toml's layers), so they can call it
directly and the event commits, or not, with the change it describes.

Amounts are credits as JSON numbers (6 decimals at most, like ``GET /api/v1/balance``) and money
in the currency's cents; times are ISO 8601 in UTC. docs/webhooks describes every ``data``."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date

from apps.core.money import MICRO

from . import services

_muted: ContextVar[bool] = ContextVar("webhook_events_muted", default=False)


@contextmanager
def muted() -> Iterator[None]:
    """No events from the hooks called inside (the playground minting its own short-lived key:
    like the keys page, webhooks leave those out)."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


def webhook_emit(**kwargs) -> None:
    if not _muted.get():
        services.webhook_emit(**kwargs)


def _credits(micro: int | None) -> float | None:
    return None if micro is None else round(micro / MICRO, 6)


def _key(key) -> dict:
    return {
        "id": key.pk,
        "name": key.name,
        "masked": f"{key.prefix}…{key.last4}",
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
    }


def key_created(key) -> None:
    webhook_emit(
        user_id=key.user_id,
        event_type="key.created",
        data={"key": _key(key), "rotated_from": key.rotated_from_id},
        reference=f"key.created:{key.pk}",
    )


def key_rotated(old, successor) -> None:
    webhook_emit(
        user_id=old.user_id,
        event_type="key.rotated",
        data={"key": _key(old), "successor": _key(successor)},
        reference=f"key.rotated:{old.pk}",
    )


def key_revoked(key) -> None:
    webhook_emit(
        user_id=key.user_id,
        event_type="key.revoked",
        data={"key": _key(key)},
        reference=f"key.revoked:{key.pk}",
    )


def key_expired(key) -> None:
    webhook_emit(
        user_id=key.user_id,
        event_type="key.expired",
        data={"key": _key(key)},
        reference=f"key.expired:{key.pk}",
        occurred_at=key.expires_at,
    )


def balance_low(profile) -> None:
    """``profile``: billing's profile of the user, annotated with the account's ``balance``."""
    webhook_emit(
        user_id=profile.user_id,
        event_type="balance.low",
        data={
            "balance": _credits(profile.balance),
            "threshold": _credits(profile.low_balance_threshold),
        },
    )


def budget_threshold(account, *, month: date, level: int) -> None:
    webhook_emit(
        user_id=account.user_id,
        event_type="budget.threshold",
        data={
            "level": level,
            "month": f"{month:%Y-%m}",
            "monthly_budget": _credits(account.monthly_budget),
            "month_spent": _credits(account.spent_in(month)),
        },
        reference=f"budget.threshold:{account.pk}:{month:%Y-%m}:{level}",
    )


def _payment(payment) -> dict:
    return {
        "id": payment.pk,
        "amount_cents": payment.amount_cents,
        "currency": payment.currency,
        "credits": _credits(payment.credits),
        "automatic": payment.automatic,
        "paid_at": payment.paid_at,
    }


def payment_succeeded(payment) -> None:
    webhook_emit(
        user_id=payment.user_id,
        event_type="payment.succeeded",
        data={"payment": _payment(payment)},
        reference=f"payment.succeeded:{payment.pk}",
    )


def payment_refunded(payment, *, cents: int, credits: int, reference: str) -> None:
    """One refund of ``cents``, ``credits`` µcr taken back (``reference``: its ledger entry's;
    ``payment.credits_refunded`` counts it already)."""
    webhook_emit(
        user_id=payment.user_id,
        event_type="payment.refunded",
        data={
            "payment": _payment(payment),
            "refund": {"amount_cents": cents, "credits": _credits(credits)},
            "credits_refunded": _credits(payment.credits_refunded),
        },
        reference=f"payment.refunded:{reference}",
    )


def auto_topup_failed(attempt, *, currency: str, still_on: bool) -> None:
    webhook_emit(
        user_id=attempt.user_id,
        event_type="auto_topup.failed",
        data={
            "attempt": {
                "id": attempt.pk,
                "amount_cents": attempt.amount_cents,
                "currency": currency,
                "status": attempt.status,
                "error": attempt.error,
                "balance": _credits(attempt.balance),
            },
            "auto_topup_enabled": still_on,
        },
        reference=f"auto_topup.failed:{attempt.pk}",
    )
