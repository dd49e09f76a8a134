"""A delivered response is billed, whatever dies.

Each gateway process appends every request's outcome to its own journal file before the last
byte of the response leaves (one unbuffered ``write``: it is in the kernel's page cache the
moment it returns, so it survives the process being killed), and settles it in the background
as before. A process holds an exclusive lock on the file it writes; a file nobody holds (its
writer died, or rotated away from it) is *recovered*: every outcome in it that has no usage
record yet is settled, then the file is deleted. On PostgreSQL in batches, each one statement
in one transaction with the gateway batcher's rules (``apps.usage.settle_sql``), pausing
between batches so that live traffic keeps the database (``_settle_in_batches``); on SQLite one
by one through the ordinary, idempotent service. Either way idempotent per request id.
Holds of requests whose outcome is nowhere (the process died before the response was
complete) expire and are reported, charging nothing, because nothing was delivered.

A journal belongs to one database: its file name starts with the identity of the database its
writer was connected to (``apps.core.installation``). Recovery settles only files of the
database it is connected to; a file of another database (a database re-created, a checkout
pointed elsewhere) is set aside as ``*.foreign``, reported, and never replayed unless an
operator says so (``manage.py journal_recover --replay FILE --force``, e.g. after restoring a
backup of that database).
"""

import contextlib
import fcntl
import logging
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import orjson
from django.conf import settings
from django.db import IntegrityError

log = logging.getLogger("opencodex.usage.journal")
ROTATE_SECONDS = 300  # a writer starts a new file this often, so old ones can be recovered
RECOVER_AFTER_SECONDS = 60  # a file untouched this long, and unlocked, is recovered


def _encode(outcome) -> bytes:
    """One line of JSON (orjson on the flat fields: a few µs, this is on the hot path)."""
    payload = dict(outcome.__dict__)
    payload["created_at"] = outcome.created_at.isoformat()
    return orjson.dumps(payload) + b"\n"


UNIDENTIFIED = "unidentified"  # written before the database's identity was known


class Journal:
    """This process's append-only file of request outcomes, named by the database it belongs
    to (``identity``, set once the process has read it)."""

    def __init__(self, directory: Path, identity: str = ""):
        self.directory = Path(directory)
        self.identity = identity
        self.fd: int | None = None
        self.opened_at = 0.0
        self.opened_as = ""
        self.path: Path | None = None

    def identify(self, identity: str) -> None:
        """The database is known: the file written so far takes its name (this process holds
        its lock, so nobody recovers it meanwhile); later files are named by it."""
        self.identity = identity
        if self.fd is not None and self.opened_as != identity:
            renamed = self.path.with_name(identity + self.path.name[len(self.opened_as) :])
            try:
                os.rename(self.path, renamed)
            except OSError:
                self.close()  # a new file next time; this one is set aside by recovery
            else:
                self.path, self.opened_as = renamed, identity

    def _open(self) -> None:
        self.close()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.opened_as = self.identity or UNIDENTIFIED
        name = f"{self.opened_as}-{os.getpid()}-{uuid.uuid4().hex[:12]}.jsonl"
        self.path = self.directory / name
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # "my writer is alive"
        self.fd, self.opened_at = fd, time.monotonic()

    def write(self, outcome) -> None:
        if self.fd is None or time.monotonic() - self.opened_at > ROTATE_SECONDS:
            self._open()
        os.write(self.fd, _encode(outcome))

    def close(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)  # also releases the lock
            self.fd = None


def _entries(path: Path) -> list[dict]:
    entries = []
    for line in path.read_bytes().splitlines():
        try:
            entry = orjson.loads(line)
        except ValueError:  # a line cut short by the crash: its response never completed
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def journal_recover(
    *,
    directory: Path,
    older_than: float = RECOVER_AFTER_SECONDS,
    identity: str | None = None,
    pause: float | None = None,
    pace: str | None = None,
) -> dict:
    """Settle the outcomes of this database's journal files whose writer is gone, and set
    aside (``*.foreign``) those of another database. Returns counts. ``pause``: the pause
    after each batch, as a multiple of its time (default GATEWAY_JOURNAL_PAUSE)."""
    from apps.core.installation import installation_identity

    found = {"files": 0, "settled": 0, "already": 0, "foreign": 0}
    directory = Path(directory)
    if not directory.is_dir():
        return found
    identity = identity or installation_identity()
    now = time.time()
    for path in sorted(directory.glob("*.jsonl")):
        try:
            if now - path.stat().st_mtime < older_than:
                continue
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its writer is alive
            if not path.name.startswith(f"{identity}-"):
                set_aside = path.with_suffix(".foreign")
                path.rename(set_aside)
                found["foreign"] += 1  # /metrics: ocx_journal_files_set_aside
                log.error(
                    "%s belongs to another database (not %s): set aside as %s, not replayed; "
                    "see manage.py journal_recover --list",
                    path.name, identity, set_aside.name,
                )  # fmt: skip
                continue
            found["files"] += 1
            failed = settle_entries(_entries(path), found, pause=pause, pace=pace)
            if failed:  # kept for an operator, out of the way of the next run
                path.rename(path.with_suffix(".failed"))
                log.error("%s: %d outcome(s) could not be settled; kept as .failed", path, failed)
                found["failed"] = found.get("failed", 0) + failed
            else:
                path.unlink()
        finally:
            os.close(fd)
    return found


def _moment(value) -> datetime | None:
    """An outcome's ``created_at`` (ISO 8601 in the file), aware; None if it is not one."""
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def recorded_query(entries: list[dict]):
    """The request ids of these outcomes that have a usage record, looked up by the
    (request_id, created_at) index and bounded by the outcomes' times, so only the partitions
    of those days are read, not every day's index. None when no outcome has a time."""
    from .models import UsageRecord

    moments = [m for m in (_moment(e.get("created_at")) for e in entries) if m is not None]
    if not moments:
        return None  # none can have been recorded
    return UsageRecord.objects.filter(
        request_id__in=[e.get("request_id") for e in entries],
        created_at__range=(min(moments), max(moments)),
    ).values_list("request_id", flat=True)


def _recorded(entries: list[dict]) -> set[str]:
    """Which of these outcomes have a usage record, a thousand at a time."""
    found = set()
    for start in range(0, len(entries), 1000):
        query = recorded_query(entries[start : start + 1000])
        if query is not None:
            found.update(query)
    return found


def settle_entries(
    entries: list[dict], found: dict, *, pause: float | None = None, pace: str | None = None
) -> int:
    """Settle the outcomes no usage record has yet; counts go to ``found``. Returns how many
    could not be settled. On PostgreSQL in batches (``_settle_in_batches``); elsewhere (SQLite,
    ``make run``) one by one through the ordinary, idempotent service."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return _settle_in_batches(entries, found, pause=pause, pace=pace)
    return _settle_one_by_one(entries, found)


def _settle_one_by_one(entries: list[dict], found: dict) -> int:
    from .models import UsageRecord
    from .services import RequestOutcome, request_settle

    failed = 0
    # Most were settled by their own process: looked up in bulk.
    settled = _recorded(entries)
    for entry in entries:
        if entry["request_id"] in settled:
            found["already"] += 1
            continue
        settled.add(entry["request_id"])  # the same outcome again further on: settled once
        try:
            entry["created_at"] = datetime.fromisoformat(entry["created_at"])
            request_settle(outcome=RequestOutcome(**entry))
        except IntegrityError:
            recorded = UsageRecord.objects.filter(
                request_id=entry["request_id"], created_at=entry["created_at"]
            )
            if recorded.exists():
                found["already"] += 1  # settled meanwhile by its own process
                continue
            failed += 1
            log.exception("could not settle %s from a journal", entry["request_id"])
            continue
        except Exception:
            failed += 1
            log.exception("could not settle %s from a journal", entry.get("request_id"))
            continue
        found["settled"] += 1
        log.warning("settled %s from the journal of a process that died", entry["request_id"])
    return failed


LOCK_TIMEOUT_MS = 200  # a batch waits this long for a row a live transaction holds, then yields
TRANSIENT = {"40P01", "55P03"}  # deadlock detected, lock not available: contention, not data


def _transient(exc: Exception) -> bool:
    from .settle_sql import SettleRaced

    if isinstance(exc, SettleRaced):
        return True
    return any(getattr(e, "sqlstate", None) in TRANSIENT for e in (exc, exc.__cause__))


def _settle_set(entries: list[dict], *, lock_timeout_ms: int = 0) -> set[str]:
    """Settle these outcomes in one transaction (``settle_sql.settle_set``: the batcher's
    rules, set-based, idempotent per request id). Returns the request ids it recorded."""
    from django.db import connection, transaction
    from django.utils import timezone

    from .settle_sql import DURABLE, settle_set

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(DURABLE)
        if lock_timeout_ms:
            cursor.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
        # A bad reference (a user or key that is gone) fails here, not at the commit: the
        # batch is then settled outcome by outcome, also inside a caller's transaction.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        return settle_set(cursor, entries, timezone.now())


def _settle_batch(entries: list[dict]) -> tuple[set[str], int]:
    """Settle a batch: (the request ids recorded, how many could not be). The batch waits for a
    live transaction's rows at most LOCK_TIMEOUT_MS, and gives way (rolls back, pauses, tries
    again) when it waited longer or lost a deadlock: live traffic goes first. A batch that
    still fails, or fails for its data (one bad row fails the whole batch), is settled
    outcome by outcome, each in its own transaction and waiting as long as it takes, so only
    the bad ones are left."""
    for attempt in range(1, 4):
        try:
            return _settle_set(entries, lock_timeout_ms=LOCK_TIMEOUT_MS), 0
        except Exception as exc:
            if not _transient(exc) or attempt == 3:
                log.warning(
                    "a batch of %d journal outcome(s) failed; settling them one by one",
                    len(entries),
                    exc_info=True,
                )
                break
            log.info("a journal batch gave way to live traffic (%s); again shortly", exc)
            time.sleep(0.1 * attempt)
    settled, failed = set(), 0
    for entry in entries:
        try:
            settled |= _settle_set([entry])
        except Exception:
            failed += 1
            log.exception("could not settle %s from a journal", entry["request_id"])
    return settled, failed


def _number(value) -> int:
    return value if isinstance(value, int) else -1


# Live traffic, as the database sees it: the other client connections to this database that
# are in a query or a transaction, or finished one within the last second (an idle pool's
# connections are not counted). One read of pg_stat_activity, a fraction of a millisecond.
LIVE_CONNECTIONS = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
    AND backend_type = 'client backend' AND application_name <> %s
    AND (state <> 'idle' OR state_change > clock_timestamp() - interval '1 second')
"""
HELPER = "opencodex journal recovery"  # the application name of recovery's other connections
LIVE_CAP = 4  # the pause grows with live connections up to this many times the duty cycle's


def live_connections() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(LIVE_CONNECTIONS, [HELPER])
        return cursor.fetchone()[0]


def pause_for(batch_seconds: float, *, factor: float, live: int | None) -> float:
    """How long recovery yields after a batch that took ``batch_seconds``.

    ``live`` is the number of other connections busy within the last second
    (``live_connections``), or None for a fixed pace (GATEWAY_JOURNAL_PACE = "fixed": as if
    one always were). No live traffic: no pause, the database is recovery's. Live traffic:
    ``factor`` (GATEWAY_JOURNAL_PAUSE) times the batch's time for each busy connection, up to
    LIVE_CAP of them: at the default 1.0 recovery keeps the database at most half busy with
    one live connection, a fifth with four or more; a slower database (longer batches) gets
    longer pauses."""
    if factor <= 0 or batch_seconds <= 0:
        return 0.0
    if live is None:
        return batch_seconds * factor
    return batch_seconds * factor * min(max(live, 0), LIVE_CAP)


def _lanes(batches: list, count: int) -> list[list]:
    """The batches in ``count`` contiguous runs (of users: a user is in two at most at their
    border), each settled in order by its own connection."""
    size = -(-len(batches) // count)
    return [batches[i : i + size] for i in range(0, len(batches), size)]


def _settle_in_batches(
    entries: list[dict], found: dict, *, pause: float | None = None, pace: str | None = None
) -> int:
    """PostgreSQL: ``GATEWAY_JOURNAL_BATCH`` outcomes at a time, each batch settled in one
    transaction (``_settle_batch``), which looks every outcome up by its request id and time
    and settles those not recorded yet.

    Gentle: after each batch, recovery yields to live traffic (``pause_for``): while other
    connections use the database it sleeps in proportion to the time the batch took (and to
    how many they are), so replaying a large journal leaves the database to live traffic most
    of the time and a batch's row locks on accounts are short; while nobody else does, it goes
    on at once, and with GATEWAY_JOURNAL_WORKERS connections (2: one batch of each half of the
    users at a time, on a database nobody else uses). GATEWAY_JOURNAL_PACE = "fixed" always
    pauses GATEWAY_JOURNAL_PAUSE times the batch's time, one batch at a time. Inside a
    caller's transaction, one connection: that one. In the gateway this runs in one of its
    database threads."""
    from django.db import connection

    batch_size = max(1, settings.GATEWAY_JOURNAL_BATCH)
    pause = max(0.0, settings.GATEWAY_JOURNAL_PAUSE if pause is None else pause)
    fixed = (pace or settings.GATEWAY_JOURNAL_PACE) == "fixed"
    named = [entry for entry in entries if isinstance(entry.get("request_id"), str)]
    failed = len(entries) - len(named)
    if failed:
        log.error("%d journal line(s) without a request id", failed)
    unique = list({entry["request_id"]: entry for entry in named}.values())
    found["already"] += len(named) - len(unique)  # the same outcome twice: settled once
    # By user, as the batcher sorts: a batch then touches few accounts and keys (each updated
    # once per batch), locks them in the batcher's order, and holds fewer rows live traffic
    # needs.
    unique.sort(
        key=lambda e: (_number(e.get("user_id")), _number(e.get("api_key_id")), e["request_id"])
    )
    batches = [unique[i : i + batch_size] for i in range(0, len(unique), batch_size)]
    workers = max(1, settings.GATEWAY_JOURNAL_WORKERS)
    if fixed or connection.in_atomic_block or len(batches) < 2:
        workers = 1
    lanes = _lanes(batches, min(workers, len(batches))) if batches else []
    helpers = ThreadPoolExecutor(max_workers=len(lanes) - 1) if len(lanes) > 1 else None
    live = live_connections() if helpers else None
    try:
        while any(lanes):
            began = time.monotonic()
            if live == 0:  # nobody else: a batch of each lane at once
                round_ = [lane.pop(0) for lane in lanes if lane]
            else:  # one batch, of the lane furthest behind
                round_ = [max(lanes, key=len).pop(0)]
            done = [helpers.submit(_helper_settle_batch, batch) for batch in round_[1:]]
            results = [_settle_batch(round_[0]), *(future.result() for future in done)]
            for batch, (settled, failures) in zip(round_, results, strict=True):
                failed += failures
                found["settled"] += len(settled)
                found["already"] += len(batch) - len(settled) - failures
                if settled:
                    log.warning(
                        "settled %d request(s) from the journal of a process that died",
                        len(settled),
                    )
            if any(lanes) and (pause or helpers):
                took = time.monotonic() - began
                live = None if fixed else live_connections()
                seconds = pause_for(took, factor=pause, live=live)
                if seconds:
                    time.sleep(seconds)
    finally:
        if helpers:
            _close_connections(helpers, len(lanes) - 1)
    return failed


def _helper_settle_batch(entries: list[dict]) -> tuple[set[str], int]:
    """``_settle_batch`` on a helper thread's connection, named so that ``live_connections``
    does not take it for live traffic."""
    from django.db import DatabaseError, connection

    with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('application_name', %s, false)", [HELPER])
    return _settle_batch(entries)  # a database that is gone: its failures counted there


def _close_connections(helpers: ThreadPoolExecutor, threads: int) -> None:
    """Each helper thread closes its database connection (one task each: they wait for one
    another), then the pool stops."""
    from django.db import connection

    barrier = threading.Barrier(threads)

    def close() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=10)
        connection.close()

    for future in [helpers.submit(close) for _ in range(threads)]:
        future.result()
    helpers.shutdown()


def journal_files(directory: Path) -> list[dict]:
    """The journal files set aside (of another database) or kept (could not be settled), with
    what they hold: for an operator deciding whether to replay one."""
    out = []
    for path in sorted(Path(directory).glob("*")):
        if path.suffix not in (".foreign", ".failed", ".jsonl"):
            continue
        entries = _entries(path)
        out.append(
            {
                "path": path,
                "state": path.suffix[1:],
                "outcomes": len(entries),
                "accounts": len({e.get("user_id") for e in entries}),
                "cost": sum(int(e.get("cost") or 0) for e in entries),
            }
        )
    return out


def journal_replay(
    *, path: Path, force: bool = False, pause: float | None = None, pace: str | None = None
) -> dict:
    """Replay one journal file into this database. Without ``force`` nothing is written: the
    counts say what would be (users, outcomes, credits, already recorded). With it, every
    outcome not recorded yet is settled here, once, and the file is renamed ``*.replayed``."""

    path = Path(path)
    entries = _entries(path)
    recorded = _recorded(entries)
    missing = [e for e in entries if e["request_id"] not in recorded]
    report = {
        "outcomes": len(entries),
        "already": len(entries) - len(missing),
        "to_settle": len(missing),
        "users": sorted({e.get("user_id") for e in missing}),
        "cost": sum(int(e.get("cost") or 0) for e in missing),
        "settled": 0,
    }
    if not force:
        return report
    found = {"settled": 0, "already": 0}
    failed = settle_entries(missing, found, pause=pause, pace=pace)
    report["settled"], report["failed"] = found["settled"], failed
    if not failed:
        path.rename(path.with_suffix(".replayed"))
    return report
