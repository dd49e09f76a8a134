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
- ``settle_set``: a whole batch in a few set-based statements over a temporary table the
  outcomes are copied into (journal recovery, bench/usage/replay.py): the outcomes recorded
  already are dropped first (an outcome with a record is skipped before its hold is even read,
  as ``request_settle`` does), the holds are locked in id order and closed, each account and
  key is updated once with the batch's sums, and it returns the request ids it recorded.

Lock order: the hold, then the account, then the spend cap, then the key, as the hold takes
them (the gateway's ``hold_sql``). ``SETTLE``'s cap and key updates wait for its account update
(``EXISTS (SELECT 1 FROM a)``); the batcher runs outcomes sorted by user. ``settle_set`` locks
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


# Journal recovery: a batch of outcomes settled set-based, in the caller's transaction, in a few
# statements over a temporary table (``settle_set``). The outcomes are copied in (``COPY``: no
# statement text to build and parse per outcome), so every statement after it is planned with
# the batch's real size: hash or index joins, never a nested loop over a whole batch per row.
#
# 1. ``BATCH_RECORDED``: the outcomes recorded already are dropped, each looked up by the
#    (request_id, created_at) index (only its day's partition): left as they are, as
#    request_settle leaves them (counted "already").
# 2. ``BATCH_HOLDS``: as SETTLE's, the holds still to close, locked in id order and closed; what
#    each charged and gave back is noted on its outcome's row.
# 3. ``BATCH_ACCOUNTS``: each account once, with the batch's sums, locked in order of user.
#    ``BATCH_CAPS``: each spend cap once, with the batch's sums, locked in order of id.
# 4. ``BATCH_KEYS_LOCK`` then ``BATCH_KEYS``: each key once, locked in order of user and id,
#    then updated with the batch's sums (a charge counts in the key's spend window when its
#    request started in it: the window of the row as locked, read by the next statement).
# 5. ``BATCH_RECORDS``: one usage record per outcome, ``ON CONFLICT DO NOTHING``; returns the
#    request ids recorded. A hold closed in 2 whose record then conflicts (a request recorded
#    between 1 and 5 without its hold being closed: no path does that) raises ``SettleRaced``,
#    and the caller's transaction is rolled back and tried again, so nothing is half-written.
#
# Lock order as the hold takes them: holds, accounts, caps, keys (FOR NO KEY
# UPDATE: what the UPDATE takes anyway, so live inserts' foreign-key checks on the same
# accounts and keys do not wait); the records' own foreign-key checks come last.

BATCH_COLUMNS = (
    "request_id", "user_id", "api_key_id", "model", "status", "created_at", "prompt_tokens",
    "completion_tokens", "cached_tokens", "cache_write_tokens", "reasoning_tokens", "protocol",
    "cost", "upstream_cost", "error_code", "latency_ms", "ttft_ms", "stream", "usage_counted",
    "held", "deployment", "attempts",
)  # fmt: skip

BATCH_CREATE = """
CREATE TEMPORARY TABLE IF NOT EXISTS ocx_replay_batch (
    request_id text PRIMARY KEY, user_id bigint, api_key_id bigint, model text, status integer,
    created_at timestamptz, prompt_tokens integer, completion_tokens integer,
    cached_tokens integer, cache_write_tokens integer, reasoning_tokens integer, protocol text,
    cost bigint, upstream_cost bigint, error_code text, latency_ms integer, ttft_ms integer,
    stream boolean, usage_counted boolean, held boolean, deployment text, attempts jsonb,
    -- what closing its hold did: charged, on which account, gave back, and the key whose
    -- credit limit the hold reserved (NULL: no hold closed)
    charged bigint, account_id bigint, released bigint, hold_key_id bigint,
    -- and the spend cap it reserved on (NULL: none)
    hold_cap_id bigint
) ON COMMIT DELETE ROWS
"""

# Empty at the start of a transaction (ON COMMIT DELETE ROWS); not when batches share one.
BATCH_CLEAR = "DELETE FROM ocx_replay_batch"

BATCH_COPY = f"COPY ocx_replay_batch ({', '.join(BATCH_COLUMNS)}) FROM STDIN"

BATCH_RECORDED = """
DELETE FROM ocx_replay_batch AS b
WHERE EXISTS (
    SELECT FROM usage_usagerecord AS r
    WHERE r.request_id = b.request_id AND r.created_at = b.created_at
)
"""

BATCH_HOLDS = """
WITH o AS (
    -- As SETTLE's: the hold, active; or expired by the reaper (charging nothing) before a
    -- late settlement that charges. Locked in one order (concurrent batches queue).
    SELECT hold.id, hold.amount, hold.status = 'active' AS active, b.cost
    FROM ocx_replay_batch AS b JOIN credits_hold AS hold ON hold.reference = b.request_id
    WHERE b.held
        AND (hold.status = 'active' OR (hold.status = 'expired' AND hold.charged = 0
                                        AND b.cost > 0))
    ORDER BY hold.id
    FOR UPDATE OF hold
), h AS (
    UPDATE credits_hold AS hold
    SET status = CASE WHEN o.cost > 0 THEN 'settled' ELSE 'released' END,
        charged = o.cost, closed_at = %(now)s
    FROM o WHERE hold.id = o.id
    RETURNING hold.reference, hold.account_id, hold.charged, hold.api_key_id,
        hold.spend_cap_id, CASE WHEN o.active THEN o.amount ELSE 0 END AS released
)
UPDATE ocx_replay_batch AS b
SET charged = h.charged, account_id = h.account_id, released = h.released,
    hold_key_id = h.api_key_id, hold_cap_id = h.spend_cap_id
FROM h WHERE b.request_id = h.reference
RETURNING b.request_id
"""

BATCH_ACCOUNTS = """
UPDATE credits_account AS acc
SET balance = acc.balance - la.charged, held = acc.held - la.released, updated_at = %(now)s,
    month_spent = CASE WHEN acc.budget_month = %(month)s THEN acc.month_spent + la.charged
                       ELSE la.charged END,
    budget_month = %(month)s
FROM (
    SELECT acc.id, s.charged, s.released
    FROM credits_account AS acc
    JOIN (
        SELECT account_id, sum(charged)::bigint AS charged, sum(released)::bigint AS released
        FROM ocx_replay_batch WHERE account_id IS NOT NULL GROUP BY account_id
    ) AS s ON s.account_id = acc.id
    ORDER BY acc.user_id
    FOR NO KEY UPDATE OF acc
) AS la
WHERE acc.id = la.id
"""

BATCH_CAPS = """
UPDATE credits_spendcap AS cap
SET held = cap.held - lc.released,
    month_spent = CASE WHEN cap.month = %(month)s THEN cap.month_spent + lc.charged
                       ELSE lc.charged END,
    month = %(month)s
FROM (
    SELECT cap.id, s.charged, s.released
    FROM credits_spendcap AS cap
    JOIN (
        SELECT hold_cap_id, sum(charged)::bigint AS charged, sum(released)::bigint AS released
        FROM ocx_replay_batch WHERE hold_cap_id IS NOT NULL GROUP BY hold_cap_id
    ) AS s ON s.hold_cap_id = cap.id
    ORDER BY cap.id
    FOR NO KEY UPDATE OF cap
) AS lc
WHERE cap.id = lc.id
"""

BATCH_KEYS_LOCK = """
SELECT key.id FROM keys_apikey AS key
WHERE key.id IN (
    SELECT COALESCE(hold_key_id, api_key_id) FROM ocx_replay_batch WHERE account_id IS NOT NULL
)
ORDER BY key.user_id, key.id
FOR NO KEY UPDATE
"""

BATCH_KEYS = """
UPDATE keys_apikey AS key
SET spent = key.spent + s.charged, held = key.held - s.reserved,
    window_spent = key.window_spent + s.in_window
FROM (
    SELECT k.id, sum(b.charged)::bigint AS charged,
        sum(CASE WHEN b.hold_key_id IS NULL THEN 0 ELSE b.released END)::bigint AS reserved,
        COALESCE(sum(b.charged) FILTER (WHERE k.window_start <= b.created_at), 0)::bigint
            AS in_window
    FROM ocx_replay_batch AS b
    JOIN keys_apikey AS k ON k.id = COALESCE(b.hold_key_id, b.api_key_id)
    WHERE b.account_id IS NOT NULL
    GROUP BY k.id
) AS s
WHERE key.id = s.id
"""

BATCH_RECORDS = """
INSERT INTO usage_usagerecord
    (request_id, user_id, api_key_id, model, prompt_tokens, completion_tokens, cached_tokens,
     cache_write_tokens, reasoning_tokens, protocol, cost, status, error_code, latency_ms, ttft_ms,
     stream, usage_counted, created_at, deployment, attempts, upstream_cost)
SELECT request_id, user_id, api_key_id, model, prompt_tokens, completion_tokens, cached_tokens,
    cache_write_tokens, reasoning_tokens, protocol, COALESCE(charged, 0), status, error_code,
    latency_ms, ttft_ms, stream, usage_counted, created_at, deployment, attempts, upstream_cost
FROM ocx_replay_batch
ON CONFLICT (request_id, created_at) DO NOTHING
RETURNING request_id
"""


class SettleRaced(Exception):
    """A hold the batch closed belongs to a request that was recorded meanwhile: the batch is
    rolled back (by the caller's transaction) and tried again."""


def _defaults() -> dict:
    out = {}
    for field in fields(RequestOutcome):
        if field.default is not MISSING:
            out[field.name] = field.default
        elif field.default_factory is not MISSING:
            out[field.name] = field.default_factory()
    return out


OUTCOME_DEFAULTS = _defaults()


def batch_row(outcome: dict) -> tuple:
    """One outcome as the journal holds it (``RequestOutcome`` fields, ``created_at`` in ISO
    8601; a field left out takes the dataclass's default) as a row of ``BATCH_COPY``."""
    get, defaults = outcome.get, OUTCOME_DEFAULTS
    row = [get(name, defaults.get(name)) for name in BATCH_COLUMNS]
    row[-1] = orjson.dumps(row[-1]).decode()  # attempts, as JSON
    return row


def settle_set(cursor, outcomes: list[dict], now: datetime) -> set[str]:
    """Settle a batch of outcomes (journal lines, distinct request ids) in the caller's
    transaction, with the batcher's rules. Returns the request ids it recorded; the others were
    recorded already."""
    cursor.execute(BATCH_CREATE)
    cursor.execute(BATCH_CLEAR)
    with cursor.copy(BATCH_COPY) as copy:
        for outcome in outcomes:
            copy.write_row(batch_row(outcome))
    cursor.execute(BATCH_RECORDED)
    params = {"now": now, "month": month_of(now)}
    cursor.execute(BATCH_HOLDS, params)
    closed = {row[0] for row in cursor.fetchall()}
    if closed:
        cursor.execute(BATCH_ACCOUNTS, params)
        cursor.execute(BATCH_CAPS, params)
        cursor.execute(BATCH_KEYS_LOCK)
        cursor.execute(BATCH_KEYS)
    cursor.execute(BATCH_RECORDS)
    recorded = {row[0] for row in cursor.fetchall()}
    if not closed <= recorded:
        raise SettleRaced(f"{len(closed - recorded)} request(s) recorded during the batch")
    return recorded
