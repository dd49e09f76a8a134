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
from apps.credits.selectors import ledger_problems
from apps.credits.services import account_ensure, credits_grant, credits_hold
from apps.keys.models import ApiKey
from apps.keys.services import api_key_create
from apps.usage.models import UsageRecord
from apps.usage.selectors import usage_charge_problems
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


BEFORE_TEAMS = [
    ("orgs", None),
    ("keys", "0005_guardrails"),
    ("credits", "0007_ledgerentry_kind_referral"),
]


def _rows(apps):
    """The money records, read through the models of the given migration state."""

    def values(app, model, *fields):
        return sorted(apps.get_model(app, model).objects.values_list(*fields))

    return {
        "accounts": values("credits", "Account", "user_id", "balance", "held"),
        "ledger": values("credits", "LedgerEntry", "account_id", "amount", "kind", "reference"),
        "holds": values("credits", "Hold", "reference", "amount", "status"),
        "keys": values("keys", "ApiKey", "pk", "user_id", "digest", "spent", "revoked_at"),
        "payments": values("billing", "Payment", "pk", "user_id", "credits", "status"),
        "usage": values("usage", "UsageRecord", "request_id", "user_id", "api_key_id", "cost"),
    }


def test_data_made_before_the_teams_schema_is_carried_over():
    """Accounts, keys, holds, payments and usage made with the schema before the teams
    migrations (credits.SpendCap, ApiKey.created_by/spend_cap, apps.orgs) come through them
    unchanged, with check_ledger clean before and after."""
    _migrate(BEFORE_TEAMS)
    try:
        # The models as the applied migrations define them (no SpendCap, no created_by...).
        old = MigrationExecutor(connection)._create_project_state(with_applied_migrations=True).apps
        assert "created_by" not in {f.name for f in old.get_model("keys", "ApiKey")._meta.fields}
        User = old.get_model("accounts", "User")
        Account = old.get_model("credits", "Account")
        Ledger = old.get_model("credits", "LedgerEntry")
        OldHold = old.get_model("credits", "Hold")
        OldKey = old.get_model("keys", "ApiKey")
        OldPayment = old.get_model("billing", "Payment")
        OldRecord = old.get_model("usage", "UsageRecord")
        now = timezone.now()
        for i in range(3):
            user = User.objects.create(email=f"before{i}@example.com", password="!")
            amount = (i + 1) * 100 * MICRO
            held = MICRO
            account = Account.objects.create(user=user, balance=amount, held=held)
            Ledger.objects.create(
                account=account,
                amount=amount,
                balance_after=amount,
                kind="topup",
                reference=f"before:{i}",
            )
            OldHold.objects.create(
                account=account,
                reference=f"hold-before:{i}",
                amount=held,
                expires_at=now + timezone.timedelta(hours=1),
            )
            key = OldKey.objects.create(
                user=user, name=f"k{i}", digest=f"{i:064d}", prefix="sk-live-abcd", last4="wxyz"
            )
            OldPayment.objects.create(
                user=user,
                amount_cents=100,
                currency="usd",
                credits=amount,
                status="paid",
                checkout_session_id=f"cs_before_{i}",
            )
            OldRecord.objects.create(
                request_id=f"req_before_{i}",
                user=user,
                api_key=key,
                model="demo-chat",
                cost=0,
                status=200,
                latency_ms=5,
                created_at=now,
            )
        # The old schema has no spend caps yet: the ledger and the charges are checked.
        assert [p.describe() for p in ledger_problems()] == []
        assert usage_charge_problems() == []
        before = _rows(old)
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    from django.apps import apps as current

    assert _rows(current) == before
    assert not ApiKey.objects.exclude(created_by=None).exists()  # personal keys: no creator row
    call_command("check_ledger")
