from apps.core.errors import ServiceError
from apps.core.money import format_credits


class InsufficientCredits(ServiceError):
    code = "insufficient_credits"

    def __init__(self, *, needed: int, available: int):
        self.needed = needed
        self.available = available
        if available < 0:
            message = (
                f"Insufficient credits: your balance is {format_credits(-available)} credits "
                "below zero (a request cost more than its estimate, or credits are held by "
                "requests in flight). Please top up to continue."
            )
        else:
            message = (
                f"Insufficient credits: this needs {format_credits(needed)} credits and "
                f"{format_credits(available)} are available. Please top up and try again."
            )
        super().__init__(message)


class BudgetReached(InsufficientCredits):
    """The account's monthly budget (not its balance) cannot cover the request."""

    code = "monthly_budget_reached"

    def __init__(self, *, needed: int, available: int, budget: int):
        self.needed = needed
        self.available = available
        self.budget = budget
        ServiceError.__init__(
            self,
            f"Monthly budget reached: this month's spending has reached your monthly budget of "
            f"{format_credits(budget)} credits ({format_credits(max(available, 0))} credits of it "
            f"left, this needs {format_credits(needed)}). Raise the budget on the billing page, "
            "or wait until the next month (UTC).",
        )


class MemberCapReached(InsufficientCredits):
    """The monthly spending cap of the keys' group (an organization member's cap: a
    ``SpendCap``), not the account's balance or budget, cannot cover the request."""

    code = "member_cap_reached"

    def __init__(self, *, needed: int, available: int, limit: int):
        self.needed = needed
        self.available = available
        self.limit = limit
        ServiceError.__init__(
            self,
            f"Your monthly spending cap in this organization ({format_credits(limit)} credits) "
            f"is reached: {format_credits(max(available, 0))} credits of it are left this "
            f"month and this request needs {format_credits(needed)}. Ask an owner or admin of "
            "the organization to raise your cap, or wait until the next month (UTC).",
        )


class InvalidAmount(ServiceError):
    code = "invalid_amount"


class AccountSuspended(ServiceError):
    code = "account_suspended"

    def __init__(self):
        from django.conf import settings

        super().__init__(
            "Your account is suspended while a payment dispute is open. "
            f"Please contact support ({settings.SUPPORT_EMAIL}) to restore access."
        )
