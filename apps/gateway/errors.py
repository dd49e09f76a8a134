"""Errors in the OpenAI shape: {"error": {"message", "type", "code", "param"}}."""

import json


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        upstream_status: int | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}
        self.upstream_status = upstream_status  # the provider's own status, when it answered

    def body(self) -> bytes:
        return json.dumps(
            {
                "error": {
                    "message": self.message,
                    "type": self.type,
                    "code": self.code,
                    "param": self.param,
                }
            },
            ensure_ascii=False,
        ).encode()


def bad_request(message: str, *, param: str | None = None, code: str = "invalid_value"):
    return ApiError(400, message, code=code, param=param)


def unauthorized(message: str, *, code: str = "invalid_api_key"):
    return ApiError(401, message, type="authentication_error", code=code)


def forbidden(message: str, *, code: str, param: str | None = None):
    return ApiError(403, message, type="permission_error", code=code, param=param)


def ip_not_allowed(address: str | None):
    return forbidden(
        f"This API key may not be used from {address or 'an unknown address'}: the address is "
        "not in the key's allowed IP addresses and networks. Call from an allowed network, or "
        "add it on the key's page.",
        code="ip_not_allowed",
    )


def model_not_allowed(model: str, allowed, *, param: str = "model", by_cap: bool = False):
    """403 for a model outside the key's allowed models (``allowed``: what it may use), or,
    ``by_cap``, outside those its spend cap (an organization member's) allows."""
    listed = ", ".join(allowed[:20]) + (", …" if len(allowed) > 20 else "")
    if not allowed:
        listed = "none of the models"
    if by_cap:
        message = (
            f"Your organization does not allow you the model '{model}'; your keys may use "
            f"{listed}. Use one of those, or ask an owner or admin of the organization to allow "
            "the model."
        )
    else:
        message = (
            f"This API key may not use the model '{model}'; it may use {listed}. Use one of "
            "those, or allow the model on the key's page."
        )
    return forbidden(message, code="model_not_allowed", param=param)


def model_refused(facts, model: str, *, param: str = "model"):
    """The 403 for a model the key's facts do not allow (its own models, its cap's)."""
    by_cap = not facts.models or model in facts.models
    return model_not_allowed(model, facts.allowed_models, param=param, by_cap=by_cap)


# Domain errors → API errors, in one table (looked up along the exception's MRO, as Starlette's
# exception handlers are): the meter raises domain errors only, this says what the client sees.
# (status, type, code)
DOMAIN_ERRORS = {
    "MemberCapReached": (402, "insufficient_credits", "member_cap_reached"),
    "BudgetReached": (402, "insufficient_credits", "monthly_budget_reached"),
    "InsufficientCredits": (402, "insufficient_credits", "insufficient_credits"),
    "KeySpendLimitReached": (402, "insufficient_credits", "key_spend_limit_reached"),
    "KeyCreditLimitReached": (402, "insufficient_credits", "key_credit_limit_reached"),
    "AccountSuspended": (402, "account_suspended", "account_suspended"),
}


def api_error_for(exc: Exception) -> ApiError | None:
    """The API error a domain error means, or None when the table does not know it."""
    for cls in type(exc).__mro__:
        found = DOMAIN_ERRORS.get(cls.__name__)
        if found is not None:
            status, kind, code = found
            return ApiError(status, getattr(exc, "message", str(exc)), type=kind, code=code)
    return None
