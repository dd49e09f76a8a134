from django.utils import timezone

from apps.credits.models import Account, month_of

from .currencies import currency_for_language, currency_valid
from .models import AutoTopUp, BillingProfile, Payment


def low_balance_threshold(*, user_id: int) -> int:
    """The user's low-balance warning level in µcr (the model's default when never set)."""
    profile = BillingProfile.objects.filter(user_id=user_id).first()
    return profile.low_balance_threshold if profile else BillingProfile().low_balance_threshold


def payments_for_user(*, user_id: int, limit: int = 50) -> list[Payment]:
    return list(Payment.objects.filter(user_id=user_id)[:limit])


def auto_topup(*, user_id: int) -> AutoTopUp:
    """The user's auto top-up settings (unsaved defaults when never set)."""
    return AutoTopUp.objects.filter(user_id=user_id).first() or AutoTopUp(user_id=user_id)


def month_spent(account: Account) -> int:
    """µcr the account's API usage cost this UTC month (as settlements counted it)."""
    return account.spent_in(month_of(timezone.now()))


def billing_currency(*, user_id: int, language: str | None) -> str:
    """The currency the user buys in: the one they chose, else the page language's default."""
    chosen = BillingProfile.objects.filter(user_id=user_id).values_list("currency", flat=True)
    chosen = chosen.first() or ""
    return chosen if currency_valid(chosen) else currency_for_language(language)
