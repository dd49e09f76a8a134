from apps.core.errors import ServiceError
from apps.core.money import format_credits


class InsufficientCredits(ServiceError):
    code = "insufficient_credits"

    def __init__(self, *, needed: int, available: int):
        self.needed = needed
        self.available = available
        super().__init__(
            f"Insufficient credits: this needs {format_credits(needed)} credits and "
            f"{format_credits(max(available, 0))} are available. Please top up and try again."
        )


class InvalidAmount(ServiceError):
    code = "invalid_amount"


class AccountSuspended(ServiceError):
    code = "account_suspended"

    def __init__(self):
        super().__init__(
            "Your account is suspended while a payment dispute is open. "
            "Please contact support to restore access."
        )
