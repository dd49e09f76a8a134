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

- ``SETTLE`` / ``RECORD``: one outcome (with / without a hold), parameters from
  ``settle_params``; the batcher runs many in one transaction with ``executemany``.
- ``SETTLE_SET``: a whole batch in one statement (journal recovery: up to ~10,000 a second on
  the 2-core bench machine, bench/usage/replay.py), the
  outcomes as one JSON array (``settle_set_params``): the holds are locked in id order and
  closed, each account and key is updated once with the batch's sums, and the statement returns
  the request ids it recorded (those it did not were recorded already: an outcome with a record
  is skipped before its hold is even read, as ``request_settle`` does).

Lock order: the hold, then the account, then the spend cap, then the key, as the hold takes
them (the gateway's ``hold_sql``). ``SETTLE``'s cap and key updates wait for its account update
(``EXISTS (SELECT 1 FROM a)``); the batcher runs outcomes sorted by user. ``SETTLE_SET`` locks
every hold, then every account (by user), then every cap (by id), then every key (by user, then
id), explicitly. A batch, the batcher's
transactions and holds thus meet on shared accounts and keys in a compatible order; the cycles
still possible (the same request in both) are broken by PostgreSQL's deadlock detection, and
recovery retries (``apps.usage.journal``).
"""

from dataclasses import MISSING, fields
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
        hold.charged, hold.api_key_id, hold.spend_cap_id
), a AS (
    UPDATE credits_account AS acc
    SET balance = acc.balance - h.charged, held = acc.held - h.amount, updated_at = %(now)s,
        month_spent = CASE WHEN acc.budget_month = %(month)s THEN acc.month_spent + h.charged
                           ELSE h.charged END,
        budget_month = %(month)s
    FROM h WHERE acc.id = h.account_id
    RETURNING acc.id
), c AS (
    -- The spend cap the hold reserved on, after the account (as the hold takes them).
    UPDATE credits_spendcap AS cap
    SET held = cap.held - h.amount,
        month_spent = CASE WHEN cap.month = %(month)s THEN cap.month_spent + h.charged
                           ELSE h.charged END,
        month = %(month)s
    FROM h WHERE cap.id = h.spend_cap_id AND EXISTS (SELECT 1 FROM a)
    RETURNING cap.id
), k AS (
    UPDATE keys_apikey AS key
    SET spent = key.spent + h.charged,
        window_spent = key.window_spent  -- the spend window the request started in
            + CASE WHEN key.window_start <= %(created_at)s THEN h.charged ELSE 0 END,
        held = key.held - CASE WHEN h.api_key_id IS NULL THEN 0 ELSE h.amount END
    FROM h WHERE key.id = COALESCE(h.api_key_id, %(api_key_id)s)
        AND EXISTS (SELECT 1 FROM a)  -- the account's row first, as the hold takes them
        AND (SELECT count(*) FROM c) >= 0  -- and the cap's
)
INSERT INTO usage_usagerecord
    (request_id, user_id, api_key_id, model, prompt_tokens, completion_tokens, cached_tokens,
     cache_write_tokens, reasoning_tokens, protocol, cost, status, error_code, latency_ms, ttft_ms,
     stream, usage_counted, created_at, deployment, attempts, upstream_cost)
VALUES
    (%(request_id)s, %(user_id)s, %(api_key_id)s, %(model)s, %(prompt_tokens)s,
     %(completion_tokens)s, %(cached_tokens)s, %(cache_write_tokens)s, %(reasoning_tokens)s,
     %(protocol)s, COALESCE((SELECT charged FROM h), 0), %(status)s, %(error_code)s,
     %(latency_ms)s, %(ttft_ms)s, %(stream)s, %(usage_counted)s, %(created_at)s,
     %(deployment)s, %(attempts)s::jsonb, %(upstream_cost)s)
ON CONFLICT (request_id, created_at) DO NOTHING
"""

RECORD = """
INSERT INTO usage_usagerecord
    (request_id, user_id, api_key_id, model, prompt_tokens, completion_tokens, cached_tokens,
     cache_write_tokens, reasoning_tokens, protocol, cost, status, error_code, latency_ms, ttft_ms,
     stream, usage_counted, created_at, deployment, attempts, upstream_cost)
VALUES
    (%(request_id)s, %(user_id)s, %(api_key_id)s, %(model)s, %(prompt_tokens)s,
     %(completion_tokens)s, %(cached_tokens)s, %(cache_write_tokens)s, %(reasoning_tokens)s,
     %(protocol)s, 0, %(status)s, %(error_code)s, %(latency_ms)s, %(ttft_ms)s,
     %(stream)s, %(usage_counted)s, %(created_at)s, %(deployment)s, %(attempts)s::jsonb,
     %(upstream_cost)s)
ON CONFLICT (request_id, created_at) DO NOTHING
"""

DURABLE = "SET LOCAL synchronous_commit = on"


def settle_params(outcome: RequestOutcome, now: datetime) -> dict:
    """The parameters of ``SETTLE`` and ``RECORD`` for one outcome."""
    fields_ = outcome.record_fields()
    fields_["attempts"] = orjson.dumps(fields_["attempts"]).decode()
    return {**fields_, "cost": outcome.cost, "now": now, "month": month_of(now)}


SETTLE_SET = """
WITH i AS (
    -- The outcomes not recorded yet, each looked up by the (request_id, created_at) index
    -- (only its day's partition): one recorded already is left as it is, as request_settle does.
    SELECT * FROM json_to_recordset(%(outcomes)s::json) AS t(
        request_id text, user_id bigint, api_key_id bigint, model text, status integer,
        created_at timestamptz, prompt_tokens integer, completion_tokens integer,
        cached_tokens integer, cache_write_tokens integer, reasoning_tokens integer,
        protocol text, cost bigint, error_code text, latency_ms integer, ttft_ms integer,
        stream boolean, usage_counted boolean, held boolean, deployment text, attempts json,
        upstream_cost bigint)
    WHERE NOT EXISTS (
        SELECT FROM usage_usagerecord AS r
        WHERE r.request_id = t.request_id AND r.created_at = t.created_at
    )
), o AS (
    -- As SETTLE's: the holds still to close, locked in one order (concurrent batches queue).
    SELECT hold.id, hold.amount, hold.status = 'active' AS active, i.cost,
        i.api_key_id AS outcome_key_id, i.created_at
    FROM i JOIN credits_hold AS hold ON hold.reference = i.request_id
    WHERE i.held
        AND (hold.status = 'active' OR (hold.status = 'expired' AND hold.charged = 0
                                        AND i.cost > 0))
    ORDER BY hold.id
    FOR UPDATE OF hold
), h AS (
    UPDATE credits_hold AS hold
    SET status = CASE WHEN o.cost > 0 THEN 'settled' ELSE 'released' END,
        charged = o.cost, closed_at = %(now)s
    FROM o WHERE hold.id = o.id
    RETURNING hold.reference, hold.account_id,
        CASE WHEN o.active THEN o.amount ELSE 0 END AS amount, hold.charged, hold.api_key_id,
        o.outcome_key_id, o.created_at, hold.spend_cap_id
), a AS (
    -- Each account once, with the batch's sums; the rows locked in order of user (hold,
    -- account, then key: as SETTLE and the hold take them).
    UPDATE credits_account AS acc
    SET balance = acc.balance - la.charged, held = acc.held - la.amount, updated_at = %(now)s,
        month_spent = CASE WHEN acc.budget_month = %(month)s THEN acc.month_spent + la.charged
                           ELSE la.charged END,
        budget_month = %(month)s
    FROM (
        SELECT acc.id, s.charged, s.amount
        FROM credits_account AS acc
        JOIN (
            SELECT account_id, sum(charged)::bigint AS charged, sum(amount)::bigint AS amount
            FROM h GROUP BY account_id
        ) AS s ON s.account_id = acc.id
        ORDER BY acc.user_id
        FOR UPDATE OF acc
    ) AS la
    WHERE acc.id = la.id
    RETURNING acc.id
), c AS (
    -- Each spend cap once, with the batch's sums, once every account is locked; in id order.
    UPDATE credits_spendcap AS cap
    SET held = cap.held - lc.amount,
        month_spent = CASE WHEN cap.month = %(month)s THEN cap.month_spent + lc.charged
                           ELSE lc.charged END,
        month = %(month)s
    FROM (
        SELECT cap.id, s.charged, s.amount
        FROM credits_spendcap AS cap
        JOIN (
            SELECT spend_cap_id, sum(charged)::bigint AS charged, sum(amount)::bigint AS amount
            FROM h WHERE spend_cap_id IS NOT NULL GROUP BY spend_cap_id
        ) AS s ON s.spend_cap_id = cap.id
        WHERE (SELECT count(*) FROM a) >= 0
        ORDER BY cap.id
        FOR UPDATE OF cap
    ) AS lc
    WHERE cap.id = lc.id
    RETURNING cap.id
), k AS (
    -- Each key once, with the batch's sums, once every account is locked (the count of a);
    -- the rows locked in order of user and id. A charge counts in the key's spend window when
    -- its request started in it (the locked row's window start).
    UPDATE keys_apikey AS key
    SET spent = key.spent + lk.charged, held = key.held - lk.reserved,
        window_spent = key.window_spent + (
            SELECT COALESCE(sum(h.charged), 0) FROM h
            WHERE COALESCE(h.api_key_id, h.outcome_key_id) = key.id
                AND key.window_start <= h.created_at
        )
    FROM (
        SELECT key.id, s.charged, s.reserved
        FROM keys_apikey AS key
        JOIN (
            SELECT COALESCE(api_key_id, outcome_key_id) AS key_id,
                sum(charged)::bigint AS charged,
                sum(CASE WHEN api_key_id IS NULL THEN 0 ELSE amount END)::bigint AS reserved
            FROM h GROUP BY 1
        ) AS s ON s.key_id = key.id
        WHERE (SELECT count(*) FROM a) >= 0 AND (SELECT count(*) FROM c) >= 0
        ORDER BY key.user_id, key.id
        FOR UPDATE OF key
    ) AS lk
    WHERE key.id = lk.id
)
INSERT INTO usage_usagerecord
    (request_id, user_id, api_key_id, model, prompt_tokens, completion_tokens, cached_tokens,
     cache_write_tokens, reasoning_tokens, protocol, cost, status, error_code, latency_ms, ttft_ms,
     stream, usage_counted, created_at, deployment, attempts, upstream_cost)
SELECT i.request_id, i.user_id, i.api_key_id, i.model, i.prompt_tokens, i.completion_tokens,
    i.cached_tokens, i.cache_write_tokens, i.reasoning_tokens, i.protocol,
    COALESCE(h.charged, 0), i.status, i.error_code, i.latency_ms, i.ttft_ms, i.stream,
    i.usage_counted, i.created_at, i.deployment, i.attempts::jsonb, i.upstream_cost
FROM i LEFT JOIN h ON h.reference = i.request_id
ON CONFLICT (request_id, created_at) DO NOTHING
RETURNING request_id
"""


def _defaults() -> dict:
    out = {}
    for field in fields(RequestOutcome):
        if field.default is not MISSING:
            out[field.name] = field.default
        elif field.default_factory is not MISSING:
            out[field.name] = field.default_factory()
    return out


OUTCOME_DEFAULTS = _defaults()


def settle_set_params(outcomes: list[dict], now: datetime) -> dict:
    """The parameters of ``SETTLE_SET``: outcomes as the journal holds them (``RequestOutcome``
    fields, ``created_at`` in ISO 8601; a field left out takes the dataclass's default)."""
    rows = [{**OUTCOME_DEFAULTS, **outcome} for outcome in outcomes]
    return {"outcomes": orjson.dumps(rows).decode(), "now": now, "month": month_of(now)}
