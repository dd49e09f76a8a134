"""What every part of the OpenAPI description shares: error responses, headers, SSE."""

ERROR = {"$ref": "#/components/schemas/Error"}

REQUEST_ID = {
    "description": "This request's id; quote it to support",
    "schema": {"type": "string"},
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying (the provider's, when it sent one)",
        "schema": {"type": "string"},
    },
    "retry-after-ms": {
        "description": "The same wait in milliseconds, when the provider sent it",
        "schema": {"type": "string"},
    },
}
ATTEMPTS = {
    "x-opencodex-upstream-attempts": {
        "description": "How many times the gateway called the provider for this request",
        "schema": {"type": "string"},
    }
}


def _error(description: str, headers: dict | None = None) -> dict:
    return {
        "description": description,
        "headers": {"x-request-id": REQUEST_ID, **(headers or {})},
        "content": {"application/json": {"schema": ERROR}},
    }


ERRORS = {
    "400": _error(
        "Bad request: malformed JSON, a missing or wrong field, an unknown model, a body over "
        "32 MiB, or the provider's own 400 (its status, type, code, param and message)",
        ATTEMPTS,
    ),
    "401": _error("Missing, malformed, unknown, revoked or expired API key"),
    "402": _error(
        "Insufficient credits (not even 256 output tokens covered, or the balance below zero), "
        "the monthly budget reached (monthly_budget_reached), the key's credit limit "
        "(key_credit_limit_reached) or its spend limit for the day, week or month "
        "(key_spend_limit_reached) reached, your monthly spending cap in an organization "
        "(member_cap_reached) reached, or account suspended"
    ),
    "403": _error(
        "The key may not be used for this: a model (or fallback model) it, or your models in its "
        "organization, do not allow (model_not_allowed, param names it), or a client address "
        "outside its allowed networks (ip_not_allowed)"
    ),
    "404": _error(
        "Unknown endpoint or model (model_not_found), or a model the provider does not know "
        "(its own error)",
        ATTEMPTS,
    ),
    "429": _error(
        "Rate limit reached: this key's requests per minute (rate_limit_exceeded) or tokens per "
        "minute (token_rate_limit_exceeded), or the provider's (its own error, Retry-After and "
        "x-ratelimit-* headers, never retried by the gateway); see Retry-After",
        {**RETRY_AFTER, **ATTEMPTS},
    ),
    "500": _error("Internal error"),
    "502": _error(
        "The upstream provider failed (upstream_error), or refused the gateway's credentials "
        "(upstream_auth)",
        ATTEMPTS,
    ),
    "503": _error(
        "The upstream provider is overloaded (upstream_overloaded); see Retry-After",
        {**RETRY_AFTER, **ATTEMPTS},
    ),
    "504": _error("The upstream provider timed out (upstream_timeout)", ATTEMPTS),
}


MAX_TOKENS_HEADERS = {
    "x-opencodex-max-tokens": {
        "description": "The output limit the request was sent with, present only when it was "
        "lowered (see the reason)",
        "schema": {"type": "integer"},
    },
    "x-opencodex-max-tokens-reason": {
        "description": "Why the output limit was lowered: above the model's maximum output, or "
        "more than the balance, the monthly budget, your monthly spending cap in an "
        "organization, the key's credit limit or the key's spend limit for its window covers",
        "schema": {
            "type": "string",
            "enum": [
                "model_limit",
                "balance",
                "budget",
                "member_cap",
                "key_credit_limit",
                "key_spend_limit",
            ],
        },
    },
}
SSE = {
    "schema": {
        "type": "string",
        "description": "Server-sent events: 'event: <type>' and 'data: <JSON>' lines",
    }
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}
