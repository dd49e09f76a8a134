"""The monthly budget in the gateway: held like the balance (one conditional UPDATE, so never
overspent under concurrency), refused with a 402 that names the budget, and lowering the output
limit to what the budget's remainder covers."""

import threading
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from apps.catalog.estimate import estimate_messages_tokens
from apps.core.money import MICRO
from apps.credits.models import Account
from apps.credits.selectors import ledger_problems
from apps.credits.services import credits_budget_set
from apps.usage.selectors import usage_charge_problems
from tests.keys.factories import make_key

from .conftest import drain
from .test_api import HELLO, cost, post

pytestmark = pytest.mark.parametrize("money_path", ["pg", "orm"], indirect=True)


def test_fifty_concurrent_requests_stop_at_the_monthly_budget(
    api, money_path, customer, client_for
):
    user, _, _ = customer
    max_tokens = 200
    one = cost(estimate_messages_tokens(HELLO), max_tokens)  # the fake bills the worst case
    budget = 10 * one + one // 2
    credits_budget_set(user_id=user.pk, budget=budget)
    _, secret = make_key(user, name="busy", rpm_limit=1000)
    client = client_for(secret)
    barrier = threading.Barrier(50)

    def call(_):
        barrier.wait()
        try:
            client.chat.completions.create(
                model="fake-exact-cost", messages=HELLO, max_tokens=max_tokens
            )
            return 200, None
        except openai.APIStatusError as exc:
            return exc.status_code, exc.body.get("code")

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(call, range(50)))
    drain(api)
    ok = [r for r in results if r[0] == 200]
    assert 5 <= len(ok) <= 10
    assert all(r == (402, "monthly_budget_reached") for r in results if r[0] != 200)
    account = Account.objects.get(user=user)
    assert account.held == 0 and account.month_spent == len(ok) * one <= budget
    assert account.balance == 100 * MICRO - len(ok) * one  # the balance was never the limit
    # Refused at the budget, though spending stopped short of it: the 100 % alert is due, once.
    from django.core import mail

    from apps.billing.services import budget_alerts_send

    assert account.month_spent < budget and account.budget_reached_month is not None
    mail.outbox.clear()
    assert budget_alerts_send() == 1 and budget_alerts_send() == 0
    assert "100% of your monthly budget" in mail.outbox[-1].subject
    # Spent to the budget: the next request is refused, naming the budget, not the balance.
    if len(ok) == 10:
        with pytest.raises(openai.APIStatusError) as exc:
            client.chat.completions.create(model="fake-exact-cost", messages=HELLO, max_tokens=200)
        assert exc.value.status_code == 402
        message = exc.value.body["message"]
        assert "monthly budget" in message and "Raise the budget" in message
        assert "Insufficient credits" not in message
    # Raising the budget lets requests through again at once.
    credits_budget_set(user_id=user.pk, budget=budget + 5 * one)
    assert client.chat.completions.create(model="fake-exact-cost", messages=HELLO, max_tokens=200)
    drain(api)
    assert ledger_problems() == [] and usage_charge_problems() == []


def test_the_budget_refusal_in_the_anthropic_and_responses_protocols(api, money_path, customer):
    user, account, secret = customer
    credits_budget_set(user_id=user.pk, budget=1)  # 1 µcr: nothing fits
    messages = post(
        api,
        secret,
        {"model": "native", "max_tokens": 100, "messages": HELLO},
        path="/api/v1/messages",
    )
    assert messages.status_code == 402
    error = messages.json()["error"]
    assert error["type"] == "billing_error" and "monthly budget" in error["message"]
    responses = post(api, secret, {"model": "fake-ok", "input": "Hello!"}, path="/api/v1/responses")
    assert responses.status_code == 402
    assert "monthly budget" in responses.json()["error"]["message"]
    chat = post(api, secret, {"model": "fake-ok", "messages": HELLO})
    assert chat.status_code == 402
    assert chat.json()["error"]["code"] == "monthly_budget_reached"
    drain(api)
    assert Account.objects.get(pk=account.pk).held == 0
    assert ledger_problems() == []


def test_the_output_limit_is_lowered_to_what_the_budget_covers(
    api, money_path, customer, client_for
):
    user, _, secret = customer
    prompt = estimate_messages_tokens(HELLO)
    credits_budget_set(user_id=user.pk, budget=cost(prompt, 600))
    raw = client_for(secret).chat.completions.with_raw_response.create(
        model="fake-exact-cost", messages=HELLO, max_tokens=1000
    )
    assert raw.parse().choices
    assert raw.headers["x-opencodex-max-tokens-reason"] == "budget"
    assert int(raw.headers["x-opencodex-max-tokens"]) == 600
    drain(api)
    account = Account.objects.get(user=user)
    assert account.held == 0 and account.month_spent <= account.monthly_budget
    assert ledger_problems() == [] and usage_charge_problems() == []
