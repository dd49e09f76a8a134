"""Database steps of the gateway, run on its worker threads.

Its rules: a step whose connection the server dropped (a PostgreSQL restart) reconnects and runs
once more (its transaction was rolled back), then gives up; a step never leaves a transaction
open on its long-lived thread (said loudly, and the connection closed); and one predicate says
which errors mean the database cannot be reached right now (the gateway then serves what it
can: cached catalog, 503s).
"""

import logging

from django.db import InterfaceError, OperationalError, connection

log = logging.getLogger("opencodex.gateway")


def _db_call(fn, kwargs):
    """Run a database step in this worker thread. Django's connection health checks only run
    around its own requests, so a connection the server dropped (a PostgreSQL restart) shows up
    here as an error: the thread reconnects and tries once more (the step's transaction was
    rolled back), then gives up."""
    try:
        for attempt in (1, 2):
            try:
                return fn(**kwargs)
            except (InterfaceError, OperationalError):
                connection.close()  # reconnect on the next call
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")
    finally:
        if connection.in_atomic_block or (connection.connection and not connection.autocommit):
            # A step must never leave its transaction open on this long-lived thread: its row
            # locks would outlive it. Said loudly, and the connection (with it) closed.
            log.error("database step %s left a transaction open: closed", _name(fn))
            connection.close()
            connection.in_atomic_block, connection.needs_rollback = False, False
            connection.savepoint_ids, connection.atomic_blocks = [], []


def _name(fn) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


def database_unavailable(exc: BaseException) -> bool:
    """Whether an error means the database cannot be reached right now."""
    import psycopg
    from psycopg_pool import PoolTimeout

    return isinstance(
        exc, InterfaceError | OperationalError | PoolTimeout | psycopg.OperationalError
    )
