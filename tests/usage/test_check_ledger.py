import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.core.money import MICRO
from apps.credits import services
from apps.credits.models import Account

pytestmark = pytest.mark.django_db


def test_clean_ledger_passes(funded_account, capsys):
    account = funded_account(credits=5)
    services.credits_hold(account_id=account.pk, amount=MICRO, reference="h1")
    call_command("check_ledger")
    assert "Ledger OK" in capsys.readouterr().out


def test_names_every_account_out_of_balance(funded_account, capsys):
    good = funded_account(credits=5)
    drifted_up = funded_account(credits=5)
    drifted_down = funded_account(credits=5)
    overheld = funded_account(credits=5)
    Account.objects.filter(pk=drifted_up.pk).update(balance=6 * MICRO)
    Account.objects.filter(pk=drifted_down.pk).update(balance=4 * MICRO)
    Account.objects.filter(pk=overheld.pk).update(held=2 * MICRO)  # no active hold behind it
    with pytest.raises(CommandError, match="3 problem"):
        call_command("check_ledger")
    err = capsys.readouterr().err
    assert f"account {drifted_up.pk} ({drifted_up.user.email})" in err
    assert "balance 6000000 µcr != ledger sum 5000000 µcr" in err
    assert f"account {drifted_down.pk} " in err
    assert f"account {overheld.pk}" in err and "held 2000000 µcr != active holds 0 µcr" in err
    assert f"account {good.pk} " not in err


def test_negative_held_cannot_even_be_written():
    from django.db import IntegrityError

    from tests.factories import AccountFactory

    account = AccountFactory()
    with pytest.raises(IntegrityError):
        Account.objects.filter(pk=account.pk).update(held=-1)


@pytest.mark.django_db(transaction=True)
def test_check_ledger_exits_non_zero_from_the_shell(funded_account):
    import os
    import subprocess
    import sys

    from django.db import connection

    account = funded_account(credits=5)
    Account.objects.filter(pk=account.pk).update(balance=1)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check_ledger"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert f"account {account.pk} ({account.user.email})" in result.stderr


def test_every_delivered_request_has_its_charge_and_every_key_its_spend(funded_account, capsys):
    from django.utils import timezone

    from apps.credits.models import Hold
    from apps.keys.models import ApiKey
    from apps.usage.models import UsageRecord
    from apps.usage.services import RequestOutcome, request_settle
    from tests.keys.factories import make_key

    account = funded_account(credits=10)
    key, _ = make_key(account.user)
    for reference in ("r1", "r2"):
        services.credits_hold(account_id=account.pk, amount=MICRO, reference=reference)
        request_settle(
            outcome=RequestOutcome(
                request_id=reference,
                user_id=account.user_id,
                api_key_id=key.pk,
                model="m",
                status=200,
                created_at=timezone.now(),
                completion_tokens=5,
                cost=MICRO // 2,
            )
        )
    call_command("check_ledger")
    assert "every delivered request has its charge" in capsys.readouterr().out
    UsageRecord.objects.filter(request_id="r1").update(cost=MICRO)  # billed, not charged
    ApiKey.objects.filter(pk=key.pk).update(spent=7)
    Hold.objects.filter(reference="r2").update(status="expired", charged=0)
    with pytest.raises(CommandError, match="3 problem"):
        call_command("check_ledger")
    err = capsys.readouterr().err
    # The record says more than the balance was charged: balance != ledger - pending.
    assert "balance 9000000 µcr != ledger sum 10000000 µcr - pending charges 1500000" in err
    assert f"key line {key.pk}: spent 7 µcr" in err
    assert "hold r2: expired charging nothing for a delivered request" in err
