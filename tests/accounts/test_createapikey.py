import io
import os
import re
import subprocess
import sys

import pytest
from allauth.account.models import EmailAddress
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from apps.accounts.models import User
from apps.core.money import MICRO
from apps.credits.models import LedgerEntry
from apps.credits.selectors import ledger_problems
from apps.keys.models import ApiKey
from apps.keys.selectors import api_key_verify

pytestmark = pytest.mark.django_db


def createapikey(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("createapikey", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_creates_a_verified_user_with_the_grant_and_prints_only_the_secret():
    out, _ = createapikey(
        "Ops@Example.com", "--name", "batch", "--limit", "25", "--rpm", "12", "--expires-in", "600"
    )
    assert re.fullmatch(r"sk-live-[0-9A-Za-z]{38}\n", out)
    user = User.objects.get(email="ops@example.com")
    assert EmailAddress.objects.get(user=user).verified
    assert user.credit_account.balance == 500 * MICRO
    key = api_key_verify(presented=out.strip()).key
    assert (key.user, key.name, key.credit_limit, key.rpm_limit) == (user, "batch", 25 * MICRO, 12)
    assert key.expires_at is not None


def test_existing_user_gets_no_second_grant_and_credits_are_adjustments(owner):
    from apps.credits.services import credits_grant_signup

    credits_grant_signup(user_id=owner.pk)
    createapikey(owner.email, "--credits", "100")
    createapikey(owner.email, "--credits", "-50.5")
    owner.credit_account.refresh_from_db()
    assert owner.credit_account.balance == (500 + 100 - 50.5) * MICRO
    kinds = sorted(LedgerEntry.objects.filter(account__user=owner).values_list("kind", flat=True))
    assert kinds == ["adjustment", "adjustment", "signup_grant"]
    assert ApiKey.objects.filter(user=owner).count() == 2
    assert ledger_problems() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["not-an-email"], "not a valid e-mail address"),
        (["a@example.com", "--limit", "0"], "--limit must be more than 0"),
        (["a@example.com", "--limit", "lots"], "--limit must be a number"),
        (["a@example.com", "--credits", "0"], "--credits must not be 0"),
        (["a@example.com", "--rpm", "abc"], "whole number"),
        (["a@example.com", "--expires-in", "-5"], "above 0"),
        (["a@example.com", "--name", ""], "--name must be 1 to 64"),
        (["a@example.com", "--credits", "-600"], "Insufficient credits"),
    ],
)
def test_bad_input_is_refused_clearly_and_leaves_nothing_behind(args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        createapikey(*args)
    assert not User.objects.exists()
    assert not ApiKey.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_exit_codes_and_stdout_from_the_shell():
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }

    def run(*args):
        return subprocess.run(
            [sys.executable, "manage.py", "createapikey", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    ok = run("shell@example.com", "--credits", "5")
    assert ok.returncode == 0, ok.stderr
    assert re.fullmatch(r"sk-live-[0-9A-Za-z]{38}\n", ok.stdout)
    bad = run("shell@example.com", "--rpm", "-1")
    assert bad.returncode == 1 and "above 0" in bad.stderr and bad.stdout == ""
