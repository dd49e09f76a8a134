"""The PostgreSQL fast path for the gateway's two money steps.

The rules are those of the services (apps.credits: hold only what ``balance - held`` covers,
charge the real cost — beyond the hold if the provider billed more, taking the balance below
zero by the overrun; apps.keys: the credit limit and a window's spend limit; apps.usage: one
record per request, which carries its charge until the rollup posts it to the ledger with the
account's others), written as one SQL statement each so a request costs two round trips and two
commits on an async connection pool, without worker threads or ORM overhead. The benchmark in
bench/gateway is why; the gateway's tests run through this path, and the services' own tests
(and the gateway on SQLite) through the ORM one. The settlement's statements live in
``apps.usage.settle_sql``, which journal recovery settles with too.
"""

# ruff: noqa: S608 (the statements are built from this module's constants, never from input)

import asyncio
from datetime import datetime

import psycopg
from django.conf import settings
from django.utils import timezone
from psycopg.conninfo import make_conninfo
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from psycopg_pool.base import AttemptWithBackoff

from apps.credits.errors import (
    AccountSuspended,
    BudgetReached,
    InsufficientCredits,
    MemberCapReached,
)
from apps.credits.models import month_of
from apps.keys.services import raise_refusal
from apps.keys.windows import Starts
from apps.usage.settle_sql import DURABLE, RECORD, SETTLE, settle_params

# The account's rule (its balance and, with one, its monthly budget), and what it has left.
ACCOUNT_FITS = """balance - held >= %(amount)s AND NOT suspended
        AND (monthly_budget IS NULL OR monthly_budget >= held + %(amount)s
             + CASE WHEN budget_month = %(month)s THEN month_spent ELSE 0 END)"""
ACCOUNT_ROOM = """LEAST(balance - held, CASE WHEN monthly_budget IS NULL THEN balance - held
        ELSE monthly_budget - held
             - CASE WHEN budget_month = %(month)s THEN month_spent ELSE 0 END END)"""

# A key with a credit limit or a spend limit: the hold also reserves on the key, in the same
# statement (apps.keys.services.api_key_reserve is the same rule through the ORM). The key's row
# says which window it counts in; a count of an earlier window starts this one from nothing.
KEY_WINDOW = """(CASE key.spend_window WHEN 'day' THEN %(day)s::timestamptz
    WHEN 'week' THEN %(week)s::timestamptz WHEN 'month' THEN %(month_start)s::timestamptz END)"""
KEY_THIS_WINDOW = f"CASE WHEN key.window_start >= {KEY_WINDOW} THEN key.window_spent ELSE 0 END"
KEY_FITS = f"""(key.credit_limit IS NULL OR key.credit_limit >= key.spent + key.held + %(amount)s)
    AND (key.spend_limit IS NULL
         OR key.spend_limit >= key.held + %(amount)s + {KEY_THIS_WINDOW})"""

# A key sharing a spend cap (an organization member's monthly cap: credits.SpendCap): the hold
# also reserves on the cap (apps.credits.services.spend_cap_reserve is the same rule through
# the ORM). A cap without a limit only counts; a count of an earlier month starts from nothing.
CAP_THIS_MONTH = "CASE WHEN cap.month = %(month)s THEN cap.month_spent ELSE 0 END"
CAP_FITS = f"""(cap.monthly_limit IS NULL
         OR cap.monthly_limit >= cap.held + %(amount)s + {CAP_THIS_MONTH})"""


def hold_sql(*, key: bool, cap: bool) -> str:
    """The hold as one statement: the account, then the cap, then the key (the order
    settlement locks them in). The account's row is taken only if the cap and the key have room
    (read without a lock), the cap's only if the account's was taken, the key's only if the
    cap's (or the account's) was. Should a concurrent request take the cap's or the key's last
    room in between, the hold row gets amount 0, which its check constraint refuses: the whole
    statement is rolled back (PgMoney.hold_on). Returns the hold's id and, without a key's
    limits, what the account (and the cap) have left after it."""
    checks = ""
    if key:
        checks += f"""
        AND EXISTS (SELECT 1 FROM keys_apikey AS key WHERE key.id = %(key_id)s AND {KEY_FITS})"""
    if cap:
        checks += f"""
        AND EXISTS (SELECT 1 FROM credits_spendcap AS cap
                    WHERE cap.id = %(cap_id)s AND {CAP_FITS})"""
    ctes = [
        f"""a AS (
    UPDATE credits_account SET held = held + %(amount)s, updated_at = %(now)s
    WHERE id = %(account_id)s AND {ACCOUNT_FITS}{checks}
    RETURNING id, {ACCOUNT_ROOM} AS room
)"""
    ]
    last, rooms = "a", "(SELECT room FROM a)"
    if cap:
        ctes.append(f"""c AS (
    UPDATE credits_spendcap AS cap SET held = cap.held + %(amount)s
    WHERE cap.id = %(cap_id)s AND {CAP_FITS} AND EXISTS (SELECT 1 FROM a)
    RETURNING cap.monthly_limit - cap.held - {CAP_THIS_MONTH} AS room
)""")
        last, rooms = "c", rooms + ", (SELECT room FROM c)"
    if key:
        ctes.append(f"""k AS (
    UPDATE keys_apikey AS key
    SET held = key.held + %(amount)s, window_spent = {KEY_THIS_WINDOW},
        window_start = GREATEST(key.window_start, {KEY_WINDOW})
    WHERE key.id = %(key_id)s AND {KEY_FITS} AND EXISTS (SELECT 1 FROM {last})
    RETURNING key.id
)""")
        last = "k"
    amount = (
        "%(amount)s"
        if last == "a"
        else f"CASE WHEN EXISTS (SELECT 1 FROM {last}) THEN %(amount)s ELSE 0 END"
    )
    return f"""
WITH {", ".join(ctes)}
INSERT INTO credits_hold (account_id, reference, amount, charged, status, api_key_id,
    spend_cap_id, created_at, expires_at)
SELECT id, %(reference)s, {amount}, 0, 'active', {"%(key_id)s" if key else "%(api_key_id)s"},
    %(cap_id)s, %(now)s, %(expires_at)s FROM a
RETURNING id, {"NULL" if key else f"LEAST({rooms})"}
"""


HOLDS = {(key, cap): hold_sql(key=key, cap=cap) for key in (False, True) for cap in (False, True)}
HOLD, HOLD_ON_KEY = HOLDS[False, False], HOLDS[True, False]

# Lock order: the account, the cap, the key (each update waits for the one before it).
RELEASE = """
WITH h AS (
    UPDATE credits_hold SET status = 'released', closed_at = %(now)s
    WHERE reference = %(request_id)s AND status = 'active'
    RETURNING account_id, amount, api_key_id, spend_cap_id
), a AS (
    UPDATE credits_account AS acc SET held = acc.held - h.amount, updated_at = %(now)s
    FROM h WHERE acc.id = h.account_id
    RETURNING acc.id
), c AS (
    UPDATE credits_spendcap AS cap SET held = cap.held - h.amount
    FROM h WHERE cap.id = h.spend_cap_id AND EXISTS (SELECT 1 FROM a)
    RETURNING cap.id
)
UPDATE keys_apikey AS key SET held = key.held - h.amount
FROM h WHERE h.api_key_id IS NOT NULL AND key.id = h.api_key_id
    AND (SELECT count(*) FROM a) + (SELECT count(*) FROM c) >= 0
"""

AVAILABLE = f"""
SELECT acc.balance - acc.held, acc.suspended, acc.monthly_budget,
    acc.monthly_budget - acc.held
        - CASE WHEN acc.budget_month = %(month)s THEN acc.month_spent ELSE 0 END,
    cap.monthly_limit, cap.monthly_limit - cap.held - {CAP_THIS_MONTH}
FROM credits_account AS acc LEFT JOIN credits_spendcap AS cap ON cap.id = %(cap_id)s
WHERE acc.id = %(account_id)s
"""
KEY_LEFT = f"""
SELECT credit_limit, spent, held, spend_limit, spend_window, {KEY_THIS_WINDOW} AS this_window
FROM keys_apikey AS key WHERE id = %(key_id)s
"""


# The fast path refuses a hold with the same domain errors as ``apps.credits.services.
# credits_hold`` and ``apps.gateway.services.request_hold``: one vocabulary for both money paths
# (the gateway's error table, errors.py, turns them into API errors).


async def refuse_account(conn, params, key_next: bool = False) -> None:
    """Raise why the account (or the spend cap) cannot hold the amount, the tightest of
    them; with ``key_next``, return when they can (the key's limits refused it)."""
    row = await (await conn.execute(AVAILABLE, params)).fetchone()
    left, suspended, budget, budget_left, cap_limit, cap_left = row or (0, False) + (None,) * 4
    if suspended:
        raise AccountSuspended()
    needed = params["amount"]
    tightest = min(v for v in (left, budget_left, cap_left) if v is not None)
    if cap_limit is not None and cap_left < needed and cap_left == tightest:
        raise MemberCapReached(needed=needed, available=cap_left, limit=cap_limit)
    if budget is not None and budget_left < needed and budget_left <= left:
        raise BudgetReached(needed=needed, available=budget_left, budget=budget)
    if key_next and left >= needed:
        return
    raise InsufficientCredits(needed=needed, available=left)


def conninfo() -> str:
    db = settings.DATABASES["default"]
    params = {
        "dbname": db["NAME"],
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": str(db["PORT"]) if db.get("PORT") else None,
    }
    return make_conninfo(**{k: v for k, v in params.items() if v is not None})


class CappedBackoff(AttemptWithBackoff):
    """The pool's reconnection delay: from 0.2 s, at most 1 s (psycopg_pool's own doubles from
    1 s without a ceiling, so a pool could wait seconds more after the database came back)."""

    INITIAL_DELAY = 0.2
    MAX_DELAY = 1.0

    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, self.MAX_DELAY)


class GatewayPool(AsyncConnectionPool):
    async def _add_connection(self, attempt, growing: bool = False) -> None:
        if attempt is None:
            attempt = CappedBackoff(timeout=self.reconnect_timeout)
        await super()._add_connection(attempt, growing=growing)


class PgMoney:
    def __init__(self):
        self.pool: AsyncConnectionPool | None = None

    async def get_pool(self) -> AsyncConnectionPool:
        if self.pool is None:
            # A hold is a reservation, not money: its commit need not wait for the disk. If the
            # database crashed before flushing it, the reservation is simply gone and its
            # request (which failed with the database anyway) is charged nothing. Settlements,
            # which move money, switch synchronous commit back on for their transaction.
            self.pool = GatewayPool(
                conninfo(),
                min_size=2,
                max_size=settings.GATEWAY_PG_POOL_SIZE,
                kwargs={
                    "autocommit": True,
                    "options": "-c synchronous_commit=off",
                    "connect_timeout": 2,
                },
                # In an outage a request waits at most a couple of seconds for a connection.
                timeout=settings.GATEWAY_PG_POOL_TIMEOUT,
                open=False,
            )
            await self.pool.open()
        return self.pool

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    async def recover(self) -> None:
        """Check the pool's idle connections, replacing those the server dropped."""
        if self.pool is not None:
            await self.pool.check()

    async def hold(
        self,
        *,
        request_id: str,
        account_id: int,
        key_id: int,
        limited: bool,
        amount: int,
        now: datetime,
        expires_at: datetime,
        starts: Starts | None = None,
        time_zone: str = "UTC",
        cap_id: int | None = None,
    ) -> int | None:
        """Hold ``amount`` µcr (also on the key's spend cap ``cap_id``); returns what the
        account (and the cap) have left after it (None for a limited key's hold, which does not
        say)."""
        params = {
            "cap_id": cap_id,
            "amount": amount,
            "account_id": account_id,
            "key_id": key_id,
            "api_key_id": key_id if limited else None,
            "reference": request_id,
            "now": now,
            "month": month_of(now or timezone.now()),
            "expires_at": expires_at,
            "day": starts and starts.day,
            "week": starts and starts.week,
            "month_start": starts and starts.month,
            "starts": starts,
            "time_zone": time_zone,
        }
        pool = await self.get_pool()
        for attempt in (1, 2):
            try:
                async with pool.connection() as conn:
                    return await self.hold_on(conn, params, limited)
            except PoolTimeout:
                raise  # no connection within the pool's timeout: the database is away, fail fast
            except psycopg.OperationalError:
                # A connection the server dropped (a restart): the pool drops every dead one
                # and the hold, rolled back with it, is tried once more on a fresh one.
                if attempt == 2:
                    raise
                await self.recover()

    async def hold_on(self, conn, params: dict, limited: bool) -> int | None:
        """The hold; returns what the account (and the cap) have left after it (µcr)."""
        capped = params.setdefault("cap_id", None) is not None
        if not limited and not capped:
            row = await (await conn.execute(HOLD, params)).fetchone()
            if row is None:
                await refuse_account(conn, params)
            return row[1]
        try:  # one statement: the account's, the cap's and the key's reservations, or none
            row = await (await conn.execute(HOLDS[limited, capped], params)).fetchone()
            if row is not None:
                return row[1]
        except psycopg.errors.CheckViolation:
            pass  # the cap's or key's last room went to a concurrent request: nothing reserved
        await refuse_account(conn, params, key_next=limited)
        row = await (await conn.execute(KEY_LEFT, params)).fetchone()
        names = ("credit_limit", "spent", "held", "spend_limit", "spend_window", "this_window")
        raise_refusal(
            dict(zip(names, row, strict=True)) if row else None,
            amount=params["amount"],
            starts=params["starts"],
            time_zone=params["time_zone"],
        )

    async def release(self, request_id: str) -> None:
        pool = await self.get_pool()
        async with pool.connection() as conn:
            await conn.execute(RELEASE, {"request_id": request_id, "now": timezone.now()})

    async def settle(self, outcome, now: datetime) -> None:
        pool = await self.get_pool()
        async with pool.connection() as conn, conn.transaction():
            await conn.execute(DURABLE)
            params = self.settle_params(outcome, now)
            await conn.execute(SETTLE if outcome.held else RECORD, params)

    async def settle_many(self, outcomes: list, now: datetime) -> None:
        """Settle a batch in one transaction and one round trip (pipeline mode): one commit for
        many requests. Sorted by user so concurrent batches lock accounts and keys in the same
        order and cannot deadlock."""
        outcomes = sorted(outcomes, key=lambda o: (o.user_id, o.api_key_id or 0, o.request_id))
        held = [self.settle_params(o, now) for o in outcomes if o.held]
        unheld = [self.settle_params(o, now) for o in outcomes if not o.held]
        pool = await self.get_pool()
        async with pool.connection() as conn, conn.transaction():
            cursor = conn.cursor()
            await cursor.execute(DURABLE)
            if held:
                await cursor.executemany(SETTLE, held)
            if unheld:
                await cursor.executemany(RECORD, unheld)

    settle_params = staticmethod(settle_params)


class SettleBatcher:
    """Collects the settlements of one worker process and writes what queued up within a few
    milliseconds (and while the previous batch committed) as one batch: one transaction and one
    commit for many requests. Holds cover requests until then."""

    MAX_BATCH = 256

    def __init__(self, money: PgMoney):
        self.money = money
        self.queue: asyncio.Queue | None = None
        self.worker: asyncio.Task | None = None

    async def settle(self, outcome) -> None:
        if self.queue is None:
            self.queue = asyncio.Queue()
        if self.worker is None or self.worker.done():
            self.worker = asyncio.get_running_loop().create_task(self.run())
        done = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((outcome, done))
        await done

    async def run(self) -> None:
        window = settings.GATEWAY_SETTLE_WINDOW_MS / 1000
        while True:
            batch = [await self.queue.get()]
            if window:  # let a few more arrive: one commit, and less work, for all of them
                await asyncio.sleep(window)
            while len(batch) < self.MAX_BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                await self.money.settle_many([outcome for outcome, _ in batch], timezone.now())
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)  # each caller retries on its own
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    async def close(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
