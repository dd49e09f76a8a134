"""Database errors under contention are one named error, retried where nothing happened: on the
real PostgreSQL (terminated backends, real deadlocks)."""

import threading

import pytest
from django.db import connection, connections

from apps.core.money import MICRO
from apps.credits import services
from apps.credits.contention import DatabaseBusy, classified, classify
from apps.credits.models import Account, Hold
from apps.credits.selectors import ledger_problems
from tests.threads import run_concurrently, unexpected

pytestmark = pytest.mark.django_db(transaction=True)


def terminate_this_backend():
    """Kill this thread's server connection from another one, as a PostgreSQL restart or an
    idle-session reaper would."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()


def test_a_connection_lost_under_a_hold_is_named_and_the_next_call_reconnects(funded_account):
    account = funded_account(credits=10)
    terminate_this_backend()
    with pytest.raises(DatabaseBusy) as caught:
        services.credits_hold(account_id=account.pk, amount=MICRO, reference="lost")
    assert caught.value.kind == "connection_lost" and caught.value.code == "database_busy"
    assert "try again" in caught.value.message
    # Nothing was held, and the very next call works on a new connection.
    assert not Hold.objects.filter(reference="lost").exists()
    hold = services.credits_hold(account_id=account.pk, amount=MICRO, reference="lost")
    assert hold.amount == MICRO
    account.refresh_from_db()
    assert account.held == MICRO and ledger_problems() == []


def test_a_real_deadlock_is_retried_and_both_sides_succeed(funded_account):
    """Two transactions lock two accounts in opposite orders: PostgreSQL aborts one with a
    deadlock (40P01); the classifier retries it and both complete."""
    first, second = funded_account(credits=1), funded_account(credits=1)
    both_locked_one = threading.Barrier(2)
    calls = {"a": 0, "b": 0}

    def lock_in_order(name, ids):
        from django.db import transaction

        calls[name] += 1
        with transaction.atomic():
            Account.objects.select_for_update().get(pk=ids[0])
            if calls[name] == 1:
                both_locked_one.wait(timeout=10)
            Account.objects.select_for_update().get(pk=ids[1])
        return name

    a = classified(lambda: lock_in_order("a", [first.pk, second.pk]))
    b = classified(lambda: lock_in_order("b", [second.pk, first.pk]))
    results = run_concurrently(lambda i: (a if i == 0 else b)(), 2)
    assert unexpected(results, str) == []
    assert sorted(results) == ["a", "b"]
    assert calls["a"] + calls["b"] == 3  # exactly one side was aborted and tried again


def test_errors_that_are_not_contention_pass_through_unchanged(funded_account):
    account = funded_account(credits=2)
    services.credits_hold(account_id=account.pk, amount=MICRO, reference="once")
    from django.db import IntegrityError

    # A repeated reference is the caller's error, not the database's: it is not renamed.
    with pytest.raises(IntegrityError):
        services.credits_hold(account_id=account.pk, amount=1, reference="once")
    with connection.cursor() as cursor, pytest.raises(Exception) as caught:
        cursor.execute("SELECT * FROM no_such_table")
    assert classify(caught.value) is None


def test_fifty_concurrent_holds_with_connections_dropped_report_only_named_errors(funded_account):
    """Holds racing while a reaper terminates backends: every thread gets a hold, a refusal or
    DatabaseBusy, never a stray driver exception, and the books stay exact."""
    account = funded_account(credits=10)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        mine = cursor.fetchone()[0]
    stop = threading.Event()
    killed = []

    def reaper():
        other = connections.create_connection("default")
        try:
            while not stop.is_set() and len(killed) < 8:
                with other.cursor() as cursor:
                    cursor.execute(
                        "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid NOT IN (pg_backend_pid(), %s) "
                        "AND backend_type = 'client backend' LIMIT 1",
                        [mine],
                    )
                    killed.extend(row[0] for row in cursor.fetchall())
                stop.wait(0.001)
        finally:
            other.close()

    thread = threading.Thread(target=reaper)
    thread.start()
    try:
        results = run_concurrently(
            lambda i: services.credits_hold(account_id=account.pk, amount=MICRO, reference=f"r{i}"),
            50,
        )
    finally:
        stop.set()
        thread.join()
    assert killed, "the reaper terminated no connection: the test proved nothing"
    assert unexpected(results, Hold, services.InsufficientCredits, DatabaseBusy) == []
    taken = sum(isinstance(r, Hold) for r in results)
    assert taken <= 10
    account.refresh_from_db()
    assert account.held == Hold.objects.filter(status="active").count() * MICRO
    assert ledger_problems() == []
