"""Concurrency in tests: threads with their own database connections, released together."""

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
