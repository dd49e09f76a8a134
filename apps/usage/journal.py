"""A delivered response is billed, whatever dies.

Each gateway process appends every request's outcome to its own journal file before the last
byte of the response leaves (one unbuffered ``write``: it is in the kernel's page cache the
moment it returns, so it survives the process being killed), and settles it in the background
as before. A process holds an exclusive lock on the file it writes; a file nobody holds (its
writer died, or rotated away from it) is *recovered*: every outcome in it that has no usage
record yet is settled through the ordinary, idempotent service, then the file is deleted.
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
import json
import logging
import os
import time
import uuid
from datetime import datetime
from pathlib import Path

import orjson
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
            entries.append(json.loads(line))
        except ValueError:  # a line cut short by the crash: its response never completed
            continue
    return entries


def journal_recover(
    *, directory: Path, older_than: float = RECOVER_AFTER_SECONDS, identity: str | None = None
) -> dict:
    """Settle the outcomes of this database's journal files whose writer is gone, and set
    aside (``*.foreign``) those of another database. Returns counts."""
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
            failed = settle_entries(_entries(path), found)
            if failed:  # kept for an operator, out of the way of the next run
                path.rename(path.with_suffix(".failed"))
                log.error("%s: %d outcome(s) could not be settled; kept as .failed", path, failed)
                found["failed"] = found.get("failed", 0) + failed
            else:
                path.unlink()
        finally:
            os.close(fd)
    return found


def _recorded(ids: list[str]) -> set[str]:
    """Which of these requests have a usage record (by the request-id index, in chunks)."""
    from .models import UsageRecord

    found = set()
    for start in range(0, len(ids), 1000):
        records = UsageRecord.objects.filter(request_id__in=ids[start : start + 1000])
        found.update(records.values_list("request_id", flat=True))
    return found


def settle_entries(entries: list[dict], found: dict) -> int:
    """Settle the outcomes no usage record has yet (each through the ordinary, idempotent
    service); counts go to ``found``. Returns how many could not be settled."""
    from .models import UsageRecord
    from .services import RequestOutcome, request_settle

    failed = 0
    # Most were settled by their own process: looked up in bulk.
    settled = _recorded([entry["request_id"] for entry in entries])
    for entry in entries:
        if entry["request_id"] in settled:
            found["already"] += 1
            continue
        try:
            entry["created_at"] = datetime.fromisoformat(entry["created_at"])
            request_settle(outcome=RequestOutcome(**entry))
        except IntegrityError:
            if UsageRecord.objects.filter(request_id=entry["request_id"]).exists():
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


def journal_replay(*, path: Path, force: bool = False) -> dict:
    """Replay one journal file into this database. Without ``force`` nothing is written: the
    counts say what would be (users, outcomes, credits, already recorded). With it, every
    outcome not recorded yet is settled here, once, and the file is renamed ``*.replayed``."""

    path = Path(path)
    entries = _entries(path)
    recorded = _recorded([e["request_id"] for e in entries])
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
    failed = settle_entries(missing, found)
    report["settled"], report["failed"] = found["settled"], failed
    if not failed:
        path.rename(path.with_suffix(".replayed"))
    return report
