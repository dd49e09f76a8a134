"""Settlement as PostgreSQL statements: the gateway's batcher (``apps.gateway.pg``) and journal
recovery (``apps.usage.journal``) settle with the same SQL.

The rules are those of ``apps.usage.services.request_settle`` (apps.credits: charge the real
cost, beyond the hold if need be, give back the rest of the hold, count the month's spending;
apps.keys: the key's spend and reservation; apps.usage: one record per request, which carries
its charge until the rollup posts it to the ledger with the account's others).

Idempotent per request id, also against a concurrent settlement of the same request: only a
hold that is still ``active`` (or ``expired`` uncharged, for a late settlement that charges) is
settled, under its row lock (``FOR UPDATE``: a transaction that waited for another one's
settlement re-reads the hold, sees it closed and charges nothing); the record is inserted
``ON CONFLICT (request_id, created_at) DO NOTHING``, so a request recorded already is skipped.

``SETTLE`` / ``RECORD``: one outcome (with / without a hold), parameters from ``settle_params``;
the batcher runs many in one transaction with ``executemany``.
"""

from datetime import datetime

import orjson

from apps.credits.models import month_of

from .services import RequestOutcome

SETTLE = """
WITH o AS (
    -- The hold, active; or expired by the reaper (charging nothing) before a late settlement:
    -- a delivered request is still charged, its reservation having been given back already.
    SELECT id, amount, status = 'active' AS active FROM credits_hold
    WHERE reference = %(request_id)s
        AND (status = 'active' OR (status = 'expired' AND charged = 0 AND %(cost)s > 0))
    FOR UPDATE
), h AS (
    UPDATE credits_hold AS hold
    SET status = CASE WHEN %(cost)s > 0 THEN 'settled' ELSE 'released' END,
        charged = %(cost)s, closed_at = %(now)s
    FROM o WHERE hold.id = o.id
    RETURNING hold.account_id, CASE WHEN o.active THEN o.amount ELSE 0 END AS amount,
        hold.charged, hold.api_key_id
), a AS (
    UPDATE credits_account AS acc
    SET balance = acc.balance - h.charged, held = acc.held - h.amount, updated_at = %(now)s,
        month_spent = CASE WHEN acc.budget_month = %(month)s THEN acc.month_spent + h.charged
                           ELSE h.charged END,
        budget_month = %(month)s
    FROM h WHERE acc.id = h.account_id
    RETURNING acc.id
), k AS (
    UPDATE keys_apikey AS key
    SET spent = key.spent + h.charged,
        held = key.held - CASE WHEN h.api_key_id IS NULL THEN 0 ELSE h.amount END
    FROM h WHERE key.id = COALESCE(h.api_key_id, %(api_key_id)s)
)
INSERT INTO usage_usagerecord
    (request_id, user_id, api_key_id, model, prompt_tokens, completion_tokens, cached_tokens,
     cache_write_tokens, reasoning_tokens, protocol, cost, status, error_code, latency_ms, ttft_ms,
     stream, usage_counted, created_at, deployment, attempts)
VALUES
    (%(request_id)s, %(user_id)s, %(api_key_id)s, %(model)s, %(prompt_tokens)s,
     %(completion_tokens)s, %(cached_tokens)s, %(cache_write_tokens)s, %(reasoning_tokens)s,
     %(protocol)s, COALESCE((SELECT charged FROM h), 0), %(status)s, %(error_code)s,
     %(latency_ms)s, %(ttft_ms)s, %(stream)s, %(usage_counted)s, %(created_at)s,
     %(deployment)s, %(attempts)s::jsonb)
ON CONFLICT (request_id, created_at) DO NOTHING
"""

RECORD = """
INSERT INTO usage_usagerecord
    (request_id, user_id, api_key_id, model, prompt_tokens, completion_tokens, cached_tokens,
     cache_write_tokens, reasoning_tokens, protocol, cost, status, error_code, latency_ms, ttft_ms,
     stream, usage_counted, created_at, deployment, attempts)
VALUES
    (%(request_id)s, %(user_id)s, %(api_key_id)s, %(model)s, %(prompt_tokens)s,
     %(completion_tokens)s, %(cached_tokens)s, %(cache_write_tokens)s, %(reasoning_tokens)s,
     %(protocol)s, 0, %(status)s, %(error_code)s, %(latency_ms)s, %(ttft_ms)s,
     %(stream)s, %(usage_counted)s, %(created_at)s, %(deployment)s, %(attempts)s::jsonb)
ON CONFLICT (request_id, created_at) DO NOTHING
"""

DURABLE = "SET LOCAL synchronous_commit = on"


def settle_params(outcome: RequestOutcome, now: datetime) -> dict:
    """The parameters of ``SETTLE`` and ``RECORD`` for one outcome."""
    fields_ = outcome.record_fields()
    fields_["attempts"] = orjson.dumps(fields_["attempts"]).decode()
    return {**fields_, "cost": outcome.cost, "now": now, "month": month_of(now)}
