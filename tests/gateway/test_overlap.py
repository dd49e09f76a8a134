"""The hold alongside the upstream call: when this process last saw the account with room for
many such holds, the upstream call starts while the hold is being taken, and nothing reaches the
client before the hold is done. A hold that is refused stops the call (402, nothing charged); one
that had to lower the output limit makes the call again with the lower limit."""

import time

import pytest

from apps.core.money import MICRO
from apps.credits import services as credits
from apps.credits.models import Hold
from apps.credits.selectors import ledger_problems
from apps.usage.models import UsageRecord
from apps.usage.selectors import usage_charge_problems
from tests.factories import UserFactory
from tests.keys.factories import make_key

from . import fake_upstream
from .conftest import drain
from .test_api import HELLO, post


def funded(amount):
    user = UserFactory(verified=True)
    credits.credits_grant(user_id=user.pk, amount=amount, kind="topup", reference=f"o:{user.pk}")
    _, secret = make_key(user, name="overlap")
    return user, secret


@pytest.fixture
def alongside(api, monkeypatch):
    """How many holds ran alongside their upstream call."""
    meter, started = api.gateway.meter, []
    original = meter.hold_soon

    def spy(*args):
        task = original(*args)
        if task is not None:
            started.append(task)
        return task

    monkeypatch.setattr(meter, "hold_soon", spy)
    return started


def pretend_room(api, user, room=10**15):
    """As if this process had just seen the account with plenty of room."""
    api.gateway.meter.headroom[user.credit_account.pk] = (room, time.monotonic() + 60)


@pytest.mark.parametrize("stream", [False, True])
def test_with_room_the_hold_runs_alongside_and_the_request_is_charged_exactly(
    api, stream, alongside
):
    user, secret = funded(100 * MICRO)
    first = post(api, secret, {"model": "fake-exact-cost", "messages": HELLO, "max_tokens": 5})
    assert first.status_code == 200
    room, _ = api.gateway.meter.headroom[user.credit_account.pk]  # learnt from the hold
    assert 0 < room < 100 * MICRO
    body = {"model": "fake-exact-cost", "messages": HELLO, "max_tokens": 5, "stream": stream}
    assert not alongside  # the first hold came first: nothing was known of the account
    second = post(api, secret, body)
    assert second.status_code == 200
    assert len(alongside) == 1
    drain(api)
    for response in (first, second):
        record = UsageRecord.objects.get(request_id=response.headers["x-request-id"])
        assert record.cost > 0 and record.status == 200
        hold = Hold.objects.get(reference=response.headers["x-request-id"])
        assert hold.status == "settled" and hold.charged == record.cost
    assert ledger_problems() == [] and usage_charge_problems() == []


@pytest.mark.parametrize("stream", [False, True])
def test_a_hold_refused_alongside_stops_the_call_and_nothing_reaches_the_client(
    api, stream, alongside
):
    user, secret = funded(1)  # one µcr: no hold fits
    pretend_room(api, user)
    body = {"model": "fake-ok", "messages": HELLO, "stream": stream}
    response = post(api, secret, body)
    assert response.status_code == 402, response.text
    assert len(alongside) == 1
    assert response.json()["error"]["code"] == "insufficient_credits"
    drain(api)
    assert not Hold.objects.filter(account=user.credit_account).exists()
    record = UsageRecord.objects.get(request_id=response.headers["x-request-id"])
    assert (record.status, record.cost) == (402, 0)
    assert ledger_problems() == [] and usage_charge_problems() == []


def test_a_hold_that_lowers_the_output_limit_sends_the_call_again_with_it(api, alongside):
    user, secret = funded(1_000_000)  # one credit: about 5,000 output tokens of fake-large
    pretend_room(api, user)
    before = len(fake_upstream.received)
    response = post(api, secret, {"model": "fake-large", "messages": HELLO})
    assert response.status_code == 200, response.text
    assert len(alongside) == 1
    lowered = int(response.headers["x-opencodex-max-tokens"])
    assert response.headers["x-opencodex-max-tokens-reason"] == "balance"
    assert lowered < 16384
    sent = [b for b in fake_upstream.received[before:] if b.get("model") == "large"]
    assert sent and sent[-1]["max_tokens"] == lowered  # the call that answered asked for less
    drain(api)
    hold = Hold.objects.get(reference=response.headers["x-request-id"])
    assert hold.status == "settled"
    assert ledger_problems() == [] and usage_charge_problems() == []
