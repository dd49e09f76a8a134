"""Concurrency in tests: threads with their own database connections, released together."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import connection


def run_concurrently(fn, n):
    """Run ``fn(i)`` in ``n`` threads released together; returns results or exceptions."""
    barrier = threading.Barrier(n)

    def call(i):
        barrier.wait()
        try:
            return fn(i)
        except Exception as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(call, range(n)))


def unexpected(results, *expected):
    """The results that are none of the ``expected`` types, each shown with its type and text,
    so a failing concurrency test says what a thread got instead."""
    return [f"{type(r).__name__}: {r}" for r in results if not isinstance(r, expected)]


def run_async(coroutine):
    """``asyncio.run(coroutine)`` in a thread of its own: the browser tests' Playwright keeps an
    event loop running in the test thread for the whole session."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
