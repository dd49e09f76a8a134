import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core import mail
from django.db import connection
from django.test import Client

from apps.accounts.models import User
from apps.core.money import MICRO
from apps.credits.models import LedgerEntry
from apps.credits.selectors import ledger_problems

from .test_signup import confirmation_link, signup


@pytest.mark.django_db(transaction=True)
def test_two_confirmations_racing_grant_once():
    signup(Client())
    link = confirmation_link(mail.outbox[0])
    barrier = threading.Barrier(6)

    def confirm(_):
        barrier.wait()
        try:
            return Client().post(link).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(confirm, range(6)))
    # The winner redirects; a loser sees allauth's "link invalid or already used" page (404).
    assert statuses.count(302) >= 1, statuses
    assert set(statuses) <= {302, 404}, statuses
    user = User.objects.get(email="new@example.com")
    assert user.credit_account.balance == 500 * MICRO
    assert LedgerEntry.objects.filter(account__user=user).count() == 1
    assert ledger_problems() == []
