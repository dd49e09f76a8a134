"""Deleting an account stops its keys at the gateway on the very next request."""

import openai
import pytest

from apps.accounts.services import user_delete
from apps.credits.models import LedgerEntry
from apps.credits.selectors import ledger_problems
from tests.gateway.conftest import (  # noqa: F401  (the live gateway's fixtures)
    api,
    client_for,
    customer,
    drain,
    live_api,
    upstream_url,
)

HELLO = [{"role": "user", "content": "Hello"}]


def test_the_gateway_refuses_a_deleted_accounts_key_at_once(api, customer, client_for):  # noqa: F811
    user, account, secret = customer
    client = client_for(secret)
    client.chat.completions.create(model="demo-chat", messages=HELLO)  # key facts now cached
    drain(api)
    entries = list(LedgerEntry.objects.filter(account=account).values_list("pk", "amount"))
    balance = type(account).objects.get(pk=account.pk).balance
    user_delete(user_id=user.pk)
    with pytest.raises(openai.AuthenticationError) as exc:
        client.chat.completions.create(model="demo-chat", messages=HELLO)
    assert exc.value.status_code == 401  # the key is revoked and its owner inactive
    drain(api)
    account.refresh_from_db()
    # The money records stay as they were: same entries, same balance, nothing held.
    assert list(LedgerEntry.objects.filter(account=account).values_list("pk", "amount")) == entries
    assert account.balance == balance and account.held == 0
    assert ledger_problems() == []
