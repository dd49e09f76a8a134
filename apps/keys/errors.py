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
