"""The organizations migration carries every existing personal account over unchanged: the
data is made with the app's migration unapplied, then the migration runs (and is reversed and
run again); balances, holds, keys, payments and usage records are as they were and
``check_ledger`` is clean before and after."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from apps.billing.models import Payment
from apps.core.money import MICRO
from apps.credits.models import Account, Hold, LedgerEntry
from apps.credits.services import account_ensure, credits_grant, credits_hold
from apps.keys.models import ApiKey
from apps.keys.services import api_key_create
from apps.usage.models import UsageRecord
from tests.factories import UserFactory
from tests.usage.factories import record

pytestmark = pytest.mark.django_db(transaction=True)

ORGS_INITIAL = ("orgs", "0001_initial")


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)


def _snapshot():
    return {
        "accounts": sorted(
            Account.objects.values_list("user_id", "balance", "held", "monthly_budget")
        ),
        "ledger": sorted(
            LedgerEntry.objects.values_list("account_id", "amount", "kind", "reference")
        ),
        "holds": sorted(Hold.objects.values_list("reference", "amount", "status", "api_key_id")),
        "keys": sorted(
            ApiKey.objects.values_list("pk", "user_id", "digest", "revoked_at", "created_by_id")
        ),
        "payments": sorted(Payment.objects.values_list("pk", "user_id", "credits", "status")),
        "usage": sorted(
            UsageRecord.objects.values_list("request_id", "user_id", "api_key_id", "cost")
        ),
    }


def test_personal_accounts_survive_the_organizations_migration():
    _migrate([("orgs", None)])
    try:
        people = [UserFactory(verified=True) for _ in range(3)]
        for i, person in enumerate(people):
            account = account_ensure(user_id=person.pk)
            credits_grant(
                user_id=person.pk, amount=(i + 1) * 50 * MICRO, kind="topup", reference=f"m:{i}"
            )
            key, _ = api_key_create(user_id=person.pk, name=f"key {i}")
            credits_hold(account_id=account.pk, amount=MICRO, reference=f"hold:{i}")
            Payment.objects.create(
                user=person,
                amount_cents=500,
                currency="usd",
                credits=500 * MICRO,
                status=Payment.Status.PAID,
                checkout_session_id=f"cs_test_{i}",
            )
            # A request of the key (its charge is the ledger's business; this one cost nothing).
            record(person, at=timezone.now(), key=key, cost=0)
        call_command("check_ledger")
        before = _snapshot()

        _migrate([ORGS_INITIAL])
        assert _snapshot() == before
        call_command("check_ledger")
        _migrate([("orgs", None)])  # and back: nothing of theirs moves either way
        assert _snapshot() == before
    finally:
        _migrate([ORGS_INITIAL])
    assert _snapshot() == before
    call_command("check_ledger")
    # An organization made afterwards sits beside them without touching them.
    from apps.orgs.services import organization_create

    organization_create(user_id=people[0].pk, name="After")
    after = _snapshot()
    assert [a for a in after["accounts"] if a[0] != people[0].pk and a[1]] == [
        a for a in before["accounts"] if a[0] != people[0].pk and a[1]
    ]
    assert after["ledger"] == before["ledger"] and after["keys"] == before["keys"]
    call_command("check_ledger")
