from .models import BillingProfile, Payment


def low_balance_threshold(*, user_id: int) -> int:
    """The user's low-balance warning level in µcr (the model's default when never set)."""
    profile = BillingProfile.objects.filter(user_id=user_id).first()
    return profile.low_balance_threshold if profile else BillingProfile().low_balance_threshold


def payments_for_user(*, user_id: int, limit: int = 50) -> list[Payment]:
    return list(Payment.objects.filter(user_id=user_id)[:limit])
