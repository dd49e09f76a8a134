from apps.core.errors import ServiceError


class KeyLimitReached(ServiceError):
    code = "key_limit_reached"


class AlreadyDone(ServiceError):
    """The same form was submitted twice; the first submission took effect."""

    code = "already_done"


class KeyNotActive(ServiceError):
    code = "key_not_active"


class KeyCreditLimitReached(ServiceError):
    code = "key_credit_limit_reached"

    def __init__(self, *, needed: int, left: int):
        from apps.core.money import format_credits

        self.needed, self.left = needed, left
        super().__init__(
            f"This API key has reached its credit limit: the request needs "
            f"{format_credits(needed)} credits and the key has {format_credits(left)} left. "
            "Raise the key's limit or use another key."
        )


class InvalidRpmLimit(ServiceError):
    code = "invalid_rpm_limit"


class KeySpendLimitReached(KeyCreditLimitReached):
    """The key's spend limit for its window (a day, week or month), not its total credit limit,
    cannot cover the request."""

    code = "key_spend_limit_reached"
    WINDOW_WORDS = {"day": "daily", "week": "weekly", "month": "monthly"}

    def __init__(self, *, needed: int, left: int, limit: int, window: str, resets_at):
        from apps.core.money import format_credits

        self.needed, self.left = needed, left
        self.limit, self.window, self.resets_at = limit, window, resets_at
        reset = resets_at.strftime("%Y-%m-%d %H:%M") + f" {resets_at.tzinfo}"
        ServiceError.__init__(
            self,
            f"This API key has reached its {self.WINDOW_WORDS.get(window, window)} spend limit "
            f"of {format_credits(limit)} credits: the request needs {format_credits(needed)} "
            f"credits and the key has {format_credits(max(left, 0))} left this {window}. The "
            f"limit resets at {reset}. Raise the key's limit or wait until then.",
        )


class InvalidGuardrail(ServiceError):
    """A key setting (allowed models, networks, limits) that cannot be applied as given."""

    code = "invalid_guardrail"
