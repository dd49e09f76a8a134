"""Database errors under contention, named once for every money service.

A money service that meets a busy or unreachable database raises one error, ``DatabaseBusy``
(with the kind of trouble), never a stray driver exception. What is known to have changed
nothing is retried here first, with a short jittered backoff: a serialization failure or a
deadlock (PostgreSQL rolled the transaction back), too many connections or a server that is
starting up (refused before anything ran), a lock that was not granted in time, SQLite's
"database is locked". A connection lost in the middle is not retried here (whether a commit
happened is unknown): the connection is closed so the next call reconnects, and the caller
decides (the gateway retries once, by reference; a portal page says to try again).

``DatabaseBusy`` is both a ``ServiceError`` (its message is safe to show) and Django's
``OperationalError`` (code that treats the database as unavailable keeps doing so).
"""

import functools
import random
import time

from django.db import DatabaseError, IntegrityError, OperationalError, connection

from apps.core.errors import ServiceError

ATTEMPTS = 4  # the first try and three retries
BACKOFF_SECONDS = 0.02

# SQLSTATE → kind. Classes: 08 connection, 40 transaction rollback, 53 insufficient resources,
# 55P03 lock not available, 57P0x the server is going away or starting.
KINDS = {
    "40001": "serialization_failure",
    "40P01": "deadlock",
    "53300": "too_many_connections",
    "55P03": "lock_not_available",
    "57P03": "server_starting",
    "57P01": "connection_lost",
    "57P02": "connection_lost",
    "57014": "statement_timeout",
}
RETRIED = {
    "serialization_failure",
    "deadlock",
    "too_many_connections",
    "lock_not_available",
    "server_starting",
    "database_locked",
}


class DatabaseBusy(ServiceError, OperationalError):
    """The database could not do a money operation just now (``kind`` says why)."""

    code = "database_busy"

    def __init__(self, kind: str, *, attempts: int = 1):
        self.kind = kind
        self.attempts = attempts
        super().__init__(
            "The service is briefly busy and could not record this; nothing was charged twice. "
            "Please try again in a few seconds."
        )


def classify(exc: BaseException) -> str | None:
    """The kind of contention ``exc`` is, or None when it is not a database availability or
    contention error (a bug, a constraint: those propagate as they are)."""
    if isinstance(exc, DatabaseBusy):
        return exc.kind
    if isinstance(exc, IntegrityError) or not isinstance(exc, DatabaseError):
        return None
    cause = exc.__cause__
    state = getattr(cause, "sqlstate", None) or ""
    if state in KINDS:
        return KINDS[state]
    if state.startswith("08"):
        return "connection_lost"
    if state.startswith("53"):
        return "too_many_connections"
    message = str(exc).lower()
    if "database is locked" in message or "database table is locked" in message:
        return "database_locked"
    if "too many clients" in message or "too many connections" in message:
        return "too_many_connections"
    if not isinstance(exc, OperationalError) and "connection" not in message:
        return None  # ProgrammingError, DataError...: not contention
    # The driver's own connection errors (no SQLSTATE: the socket went away, the server is
    # not there, the connection was already closed).
    return "connection_lost"


def classified(fn):
    """Run a money service; retry what changed nothing, name the rest ``DatabaseBusy``."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return fn(*args, **kwargs)
            except DatabaseBusy:
                raise  # an inner service named it already
            except DatabaseError as exc:
                kind = classify(exc)
                if kind is None:
                    raise
                if kind in ("connection_lost", "too_many_connections") and (
                    not connection.in_atomic_block
                ):
                    connection.close()  # unusable (or never was): the next call reconnects
                # Inside an outer transaction nothing can be retried here: the caller's
                # transaction is aborted and must be rolled back by the caller.
                if kind not in RETRIED or connection.in_atomic_block or attempt == ATTEMPTS:
                    raise DatabaseBusy(kind, attempts=attempt) from exc
                time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1) * (0.5 + random.random()))  # noqa: S311
        raise AssertionError("unreachable")

    return wrapper
