"""A delivered response is billed, whatever dies.

Each gateway process appends every request's outcome to its own journal file before the last
byte of the response leaves (one unbuffered ``write``: it is in the kernel's page cache the
moment it returns, so it survives the process being killed), and settles it in the background
as before. A process holds an exclusive lock on the file it writes; a file nobody holds (its
writer died, or rotated away from it) is *recovered*: every outcome in it that has no usage
record yet is settled through the ordinary, idempotent service, then the file is deleted.
Holds of requests whose outcome is nowhere (the process died before the response was
complete) expire and are reported, charging nothing, because nothing was delivered.
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


class Journal:
    """This process's append-only file of request outcomes."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.fd: int | None = None
        self.opened_at = 0.0

    def _open(self) -> None:
        self.close()
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{os.getpid()}-{uuid.uuid4().hex[:12]}.jsonl"
        fd = os.open(self.directory / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
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


def journal_recover(*, directory: Path, older_than: float = RECOVER_AFTER_SECONDS) -> dict:
    """Settle the outcomes of journal files whose writer is gone. Returns counts."""
    from .models import UsageRecord
    from .services import RequestOutcome, request_settle

    found = {"files": 0, "settled": 0, "already": 0}
    directory = Path(directory)
    if not directory.is_dir():
        return found
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
            found["files"] += 1
            failed = 0
            entries = _entries(path)
            settled = set()  # most were settled by their own process: look them up in bulk
            ids = [entry["request_id"] for entry in entries]
            for start in range(0, len(ids), 1000):
                chunk = ids[start : start + 1000]
                records = UsageRecord.objects.filter(request_id__in=chunk)
                settled.update(records.values_list("request_id", flat=True))
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
                log.warning(
                    "settled %s from the journal of a process that died", entry["request_id"]
                )
            if failed:  # kept for an operator, out of the way of the next run
                path.rename(path.with_suffix(".failed"))
                log.error("%s: %d outcome(s) could not be settled; kept as .failed", path, failed)
                found["failed"] = found.get("failed", 0) + failed
            else:
                path.unlink()
        finally:
            os.close(fd)
    return found
