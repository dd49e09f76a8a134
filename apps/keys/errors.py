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
