"""A member's spend cap in the gateway (issue #21): the cap a key shares with its creator's other
keys (``credits.SpendCap``) is held in the same hold as the balance on both money paths (never
overspent under concurrency), refused with a 402 naming the cap in each protocol's shape, lowers
the output limit to what it covers, narrows the models with the key's own list, and applies a
change from the very next request."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import anthropic
import httpx
import openai
import pytest
from django.utils import timezone

from apps.catalog.estimate import estimate_messages_tokens
from apps.core.money import MICRO
from apps.credits import services as credits
from apps.credits.models import Account, Hold, SpendCap, month_of
from apps.credits.selectors import ledger_problems, spend_cap_problems
from apps.usage.selectors import usage_charge_problems
from tests.factories import UserFactory
from tests.keys.factories import make_key

from . import fake_upstream
from .conftest import drain, wait_for
from .test_api import HELLO, cost, post

money_paths = pytest.mark.parametrize("money_path", ["pg", "orm"], indirect=True)
ONE = cost(estimate_messages_tokens(HELLO), 200)  # a fake-exact-cost call with max_tokens=200


def member_key(user, limit=None, models=(), **kwargs):
    """A key sharing a new spend cap of the user's account: (key, secret, cap)."""
    cap = credits.spend_cap_create(user_id=user.pk, monthly_limit=limit, allowed_models=models)
    key, secret = make_key(user, name=f"member {cap.pk}", spend_cap_id=cap.pk, **kwargs)
    return key, secret, cap


def claude_for(api, secret):
    return anthropic.Anthropic(api_key=secret, base_url=f"{api.url}/api", max_retries=0)


def exact(client, max_tokens=200):
    return client.chat.completions.create(
        model="fake-exact-cost", messages=HELLO, max_tokens=max_tokens
    )


def all_clean():
    return ledger_problems() == [] and spend_cap_problems() == [] and usage_charge_problems() == []


@money_paths
def test_fifty_concurrent_requests_of_five_members_overspend_no_cap_and_no_balance(
    api, money_path, client_for
):
    """5 members (a key each, a cap each: two tight, two roomy, one without a limit), 10
    concurrent requests each, on an account whose balance covers 30 of the 50."""
    user = UserFactory(verified=True)
    balance = 30 * ONE + ONE // 2
    credits.credits_grant(user_id=user.pk, amount=balance, kind="topup", reference="t:caps")
    limits = [2 * ONE + ONE // 2, 4 * ONE + ONE // 2, 10 * ONE, 20 * ONE, None]
    members = [member_key(user, limit, rpm_limit=1000) for limit in limits]
    clients = [client_for(secret) for _, secret, _ in members]
    barrier = threading.Barrier(50)

    def call(i):
        barrier.wait()
        try:
            exact(clients[i % 5])
            return 200, None
        except openai.APIStatusError as exc:
            return exc.status_code, exc.body.get("code")

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(call, range(50)))
    drain(api)
    ok = [sum(1 for i, r in enumerate(results) if i % 5 == n and r[0] == 200) for n in range(5)]
    refusals = {r for r in results if r[0] != 200}
    assert refusals <= {(402, "member_cap_reached"), (402, "insufficient_credits")}
    assert (402, "member_cap_reached") in refusals
    assert ok[0] <= 2 and ok[1] <= 4 and ok[2] <= 10 and sum(ok) <= 30
    for n, (_, _, cap) in enumerate(members):
        cap.refresh_from_db()
        assert cap.held == 0 and cap.month_spent == ok[n] * ONE
        assert limits[n] is None or cap.month_spent <= limits[n]
    account = Account.objects.get(user=user)
    assert account.held == 0 and account.balance == balance - sum(ok) * ONE >= 0
    assert not Hold.objects.filter(status="active").exists()
    assert all_clean()


@money_paths
def test_the_cap_refusal_names_the_cap_in_each_protocols_shape(
    api, money_path, customer, client_for
):
    user, account, _ = customer
    _, secret, cap = member_key(user, limit=5 * MICRO)
    SpendCap.objects.filter(pk=cap.pk).update(month=month_of(timezone.now()), month_spent=5 * MICRO)
    client = client_for(secret)
    with pytest.raises(openai.APIStatusError) as exc:
        client.chat.completions.create(model="fake-ok", messages=HELLO)
    assert exc.value.status_code == 402
    body = exc.value.body
    assert (body["code"], body["type"]) == ("member_cap_reached", "insufficient_credits")
    assert "monthly spending cap in this organization (5" in body["message"]
    assert "Insufficient credits" not in body["message"] and "top up" not in body["message"]
    with pytest.raises(openai.APIStatusError) as exc:  # Codex: the Responses API
        client.responses.create(model="fake-ok", input="Hello!")
    assert exc.value.status_code == 402 and exc.value.body["code"] == "member_cap_reached"
    assert "monthly spending cap" in exc.value.body["message"]
    for model in ("fake-ok", "native"):  # Claude Code: translated, and passed through natively
        with pytest.raises(anthropic.APIStatusError) as exc:
            claude_for(api, secret).messages.create(model=model, max_tokens=100, messages=HELLO)
        assert exc.value.status_code == 402
        error = exc.value.body["error"]
        assert error["type"] == "billing_error" and "monthly spending cap" in error["message"]
    drain(api)
    assert fake_upstream.received == []
    assert Account.objects.get(pk=account.pk).held == 0
    assert SpendCap.objects.get(pk=cap.pk).held == 0
    assert all_clean()


@money_paths
def test_the_output_limit_is_lowered_to_what_the_cap_covers(api, money_path, customer, client_for):
    user, _, _ = customer
    prompt = estimate_messages_tokens(HELLO)
    _, secret, cap = member_key(user, limit=cost(prompt, 600))
    raw = client_for(secret).chat.completions.with_raw_response.create(
        model="fake-exact-cost", messages=HELLO, max_tokens=1000
    )
    assert raw.parse().choices
    assert raw.headers["x-opencodex-max-tokens-reason"] == "member_cap"
    assert int(raw.headers["x-opencodex-max-tokens"]) == 600
    drain(api)
    cap.refresh_from_db()
    assert cap.held == 0 and cap.month_spent == cost(prompt, 600) == cap.monthly_limit
    assert all_clean()


def test_the_models_of_the_key_and_of_the_cap_intersect(api, customer, client_for):
    user, _, _ = customer
    _, secret, _ = member_key(
        user,
        models=["fake-ok", "native", "fake-record"],
        allowed_models=["fake-ok", "native", "demo-chat"],
    )
    client = client_for(secret)
    assert sorted(m.id for m in client.models.list()) == ["fake-ok", "native"]
    assert client.chat.completions.create(model="fake-ok", messages=HELLO).choices
    # The key allows it, the member's cap does not: 403, saying whose rule it is.
    with pytest.raises(openai.PermissionDeniedError) as exc:
        client.chat.completions.create(model="demo-chat", messages=HELLO)
    body = exc.value.body
    assert (body["code"], body["param"]) == ("model_not_allowed", "model")
    assert "organization does not allow you the model 'demo-chat'" in body["message"]
    assert "fake-ok, native" in body["message"]
    # The cap allows it, the key does not: the key's own refusal.
    with pytest.raises(openai.PermissionDeniedError) as exc:
        client.chat.completions.create(model="fake-record", messages=HELLO)
    assert "This API key may not use the model 'fake-record'" in exc.value.body["message"]
    with pytest.raises(openai.PermissionDeniedError) as exc:
        client.responses.create(model="demo-chat", input="Hi")
    assert exc.value.body["code"] == "model_not_allowed"
    with pytest.raises(anthropic.PermissionDeniedError) as exc:
        claude_for(api, secret).messages.create(model="demo-chat", max_tokens=50, messages=HELLO)
    assert exc.value.body["error"]["type"] == "permission_error"
    with pytest.raises(openai.PermissionDeniedError):
        client.models.retrieve("demo-chat")
    counted = post(
        api,
        secret,
        {"model": "demo-chat", "messages": HELLO},
        path="/api/v1/messages/count_tokens",
    )
    assert counted.status_code == 403
    # A cap's list alone narrows a key that has none.
    _, only_cap, _ = member_key(user, models=["native"])
    assert [m.id for m in client_for(only_cap).models.list()] == ["native"]
    drain(api)
    assert all_clean()


def test_a_changed_cap_applies_from_the_very_next_request(api, customer, client_for):
    user, _, _ = customer
    _, secret, cap = member_key(user, limit=100 * MICRO)
    client = client_for(secret)
    assert client.chat.completions.create(model="demo-chat", messages=HELLO).choices  # cached
    # Behind the service's back the cached facts still allow the model: the cache is in play.
    SpendCap.objects.filter(pk=cap.pk).update(allowed_models=["fake-ok"])
    assert client.chat.completions.create(model="demo-chat", messages=HELLO).choices
    # Through the service: refused at once (every worker's cache entry is dropped).
    credits.spend_cap_update(cap_id=cap.pk, monthly_limit=100 * MICRO, allowed_models=["fake-ok"])
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="demo-chat", messages=HELLO)
    assert [m.id for m in client.models.list()] == ["fake-ok"]
    # A lowered limit holds at once too: the hold reads it where it is kept.
    credits.spend_cap_update(cap_id=cap.pk, monthly_limit=0, allowed_models=[])
    with pytest.raises(openai.APIStatusError) as exc:
        client.chat.completions.create(model="demo-chat", messages=HELLO)
    assert exc.value.body["code"] == "member_cap_reached"
    credits.spend_cap_update(cap_id=cap.pk, monthly_limit=None, allowed_models=[])
    assert client.chat.completions.create(model="demo-chat", messages=HELLO).choices
    drain(api)
    assert all_clean()


@money_paths
def test_a_cap_lowered_mid_flight_stops_the_next_request_and_settles_the_one_in_flight(
    api, money_path, customer, client_for
):
    user, account, _ = customer
    _, secret, cap = member_key(user, limit=10 * ONE)
    client = client_for(secret)
    with ThreadPoolExecutor(1) as pool:
        flying = pool.submit(exact, client)  # the fake answers it after half a second
        wait_for(lambda: SpendCap.objects.get(pk=cap.pk).held == ONE)
        credits.spend_cap_update(cap_id=cap.pk, monthly_limit=ONE // 2)
        with pytest.raises(openai.APIStatusError) as exc:
            exact(client)
        assert exc.value.body["code"] == "member_cap_reached"
        assert flying.result(timeout=30).choices  # held under the old limit: served, charged
    drain(api)
    cap.refresh_from_db()
    assert (cap.held, cap.month_spent) == (0, ONE)
    assert Account.objects.get(pk=account.pk).balance == 100 * MICRO - ONE
    assert all_clean()


@money_paths
def test_a_new_month_gives_the_cap_back(api, money_path, customer, client_for):
    user, _, _ = customer
    _, secret, cap = member_key(user, limit=2 * ONE)
    last_month = (month_of(timezone.now()) - timedelta(days=1)).replace(day=1)
    SpendCap.objects.filter(pk=cap.pk).update(month=last_month, month_spent=2 * ONE)
    client = client_for(secret)
    assert exact(client).choices  # last month's spending does not count
    drain(api)
    cap.refresh_from_db()
    assert (cap.month, cap.month_spent, cap.held) == (month_of(timezone.now()), ONE, 0)
    assert exact(client).choices
    drain(api)
    with pytest.raises(openai.APIStatusError) as exc:  # this month's two are the cap
        exact(client)
    assert exc.value.body["code"] == "member_cap_reached"
    drain(api)
    assert all_clean()


@money_paths
def test_a_capped_key_with_its_own_limits_reserves_on_all_three(
    api, money_path, customer, client_for
):
    user, account, _ = customer
    key, secret, cap = member_key(
        user, limit=3 * ONE, credit_limit=2 * ONE, spend_limit=10 * ONE, spend_window="day"
    )
    client = client_for(secret)
    assert exact(client).choices and exact(client).choices
    with pytest.raises(openai.APIStatusError) as exc:  # the key's credit limit is tighter
        exact(client)
    assert exc.value.body["code"] == "key_credit_limit_reached"
    drain(api)
    key.refresh_from_db()
    cap.refresh_from_db()
    assert (key.spent, key.held, key.window_spent) == (2 * ONE, 0, 2 * ONE)
    assert (cap.month_spent, cap.held) == (2 * ONE, 0)
    # The key's limit raised above the cap: now the cap stops it.
    from apps.keys.services import api_key_update

    api_key_update(
        user_id=user.pk, key_id=key.pk, name=key.name, credit_limit=10 * ONE, rpm_limit=None
    )
    assert exact(client).choices
    with pytest.raises(openai.APIStatusError) as exc:
        exact(client)
    assert exc.value.body["code"] == "member_cap_reached"
    drain(api)
    assert Account.objects.get(pk=account.pk).held == 0
    assert all_clean()


def hold_waits_for_a_lock() -> bool:
    import psycopg

    from apps.gateway.pg import conninfo

    with psycopg.connect(conninfo(), autocommit=True) as conn:
        return (
            conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database() "
                "AND query LIKE '%%UPDATE credits_account SET held = held +%%'"
            ).fetchone()[0]
            > 0
        )


def capped_pg_hold(account, key, cap, *, amount, request_id, limited):
    """The fast path's hold of one request (its own pool, in a thread's own event loop)."""
    import asyncio

    from apps.gateway.pg import PgMoney
    from apps.keys import windows

    now = timezone.now()

    async def hold():
        money = PgMoney()
        try:
            return await money.hold(
                request_id=request_id,
                account_id=account.pk,
                key_id=key.pk,
                limited=limited,
                amount=amount,
                now=now,
                expires_at=now + timedelta(minutes=5),
                starts=windows.starts("UTC", now),
                cap_id=cap.pk,
            )
        finally:
            await money.close()

    return ThreadPoolExecutor(1).submit(asyncio.run, hold())


@pytest.mark.parametrize("limited", [False, True])
def test_the_fast_hold_locks_the_account_then_the_cap_and_rolls_back_a_cap_filled_meanwhile(
    transactional_db, limited
):
    """The hold reads the cap's room before it takes the account's row and reserves on the cap
    (then the key) after: while it waits for the account it holds neither; when another request
    takes the cap's last room in between, nothing stays held and the cap is named."""
    import psycopg

    from apps.credits.errors import MemberCapReached
    from apps.gateway.pg import conninfo

    user = UserFactory(verified=True)
    credits.credits_grant(user_id=user.pk, amount=10 * MICRO, kind="topup", reference="race")
    cap = credits.spend_cap_create(user_id=user.pk, monthly_limit=MICRO)
    extra = {"credit_limit": 5 * MICRO} if limited else {}
    key, _ = make_key(user, name="race", spend_cap_id=cap.pk, **extra)
    account = Account.objects.get(user=user)
    with psycopg.connect(conninfo()) as other:  # another request, mid-transaction
        other.execute("SELECT 1 FROM credits_account WHERE id = %s FOR UPDATE", [account.pk])
        waiting = capped_pg_hold(
            account, key, cap, amount=MICRO // 2, request_id="req_race", limited=limited
        )
        wait_for(hold_waits_for_a_lock, timeout=20)
        assert not waiting.done()
        for table, pk in (("credits_spendcap", cap.pk), ("keys_apikey", key.pk)):
            other.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE NOWAIT", [pk])  # noqa: S608
        other.execute("UPDATE credits_spendcap SET held = %s WHERE id = %s", [MICRO, cap.pk])
        other.commit()
        with pytest.raises(MemberCapReached) as exc:
            waiting.result(timeout=30)
    assert exc.value.available == 0 and exc.value.limit == MICRO
    assert Account.objects.get(pk=account.pk).held == 0
    assert not Hold.objects.filter(reference="req_race").exists()
    key.refresh_from_db()
    assert key.held == 0
    SpendCap.objects.filter(pk=cap.pk).update(held=0)
    # With room, the fast hold reserves on all of them and says what the tighter room leaves.
    room = capped_pg_hold(
        account, key, cap, amount=MICRO // 4, request_id="req_fits", limited=limited
    ).result(timeout=30)
    assert room == (None if limited else MICRO - MICRO // 4)
    assert SpendCap.objects.get(pk=cap.pk).held == MICRO // 4
    assert Hold.objects.get(reference="req_fits").spend_cap_id == cap.pk
    from apps.usage.services import request_release

    request_release(request_id="req_fits")
    assert spend_cap_problems() == [] and ledger_problems() == []


def test_a_roomy_cap_lets_the_hold_run_alongside_and_a_tight_one_does_not(api, customer):
    """The room the fast hold returns is the account's and the cap's smaller one, kept per
    account and cap: a key of a roomy cap holds alongside the upstream call as a key without
    one does; a key whose cap has little room left holds first."""
    meter = api.gateway.meter
    started = []
    original = meter.hold_soon

    def spy(*args):
        task = original(*args)
        if task is not None:
            started.append(task)
        return task

    meter.hold_soon = spy
    try:
        user, account, _ = customer
        _, roomy, roomy_cap = member_key(user, limit=50 * MICRO)
        _, tight, tight_cap = member_key(user, limit=5 * ONE)
        body = {"model": "fake-exact-cost", "messages": HELLO, "max_tokens": 200}
        for secret in (roomy, roomy, tight, tight):
            assert post(api, secret, body).status_code == 200
        drain(api)
        assert len(started) == 1  # the roomy cap's second request
        room, _ = meter.headroom[(account.pk, roomy_cap.pk)]
        assert 0 < room <= 50 * MICRO - ONE
        tight_room, _ = meter.headroom[(account.pk, tight_cap.pk)]
        assert tight_room < 8 * ONE
    finally:
        meter.hold_soon = original
    assert all_clean()


def test_the_balance_says_what_is_left_of_the_members_cap(api, customer, client_for):
    user, _, _ = customer
    _, secret, _ = member_key(user, limit=10 * MICRO, models=["fake-exact-cost"])
    assert exact(client_for(secret)).choices
    drain(api)
    found = httpx.get(
        f"{api.url}/api/v1/balance", headers={"Authorization": f"Bearer {secret}"}
    ).json()
    assert found["member_cap"] == {
        "monthly_limit": 10.0,
        "month_spent": round(ONE / MICRO, 6),
        "held": 0.0,
        "remaining": round((10 * MICRO - ONE) / MICRO, 6),
        "resets_at": found["member_cap"]["resets_at"],
        "models": ["fake-exact-cost"],
    }
    assert found["member_cap"]["resets_at"].endswith("-01T00:00:00+00:00")
    plain = httpx.get(
        f"{api.url}/api/v1/balance", headers={"Authorization": f"Bearer {customer[2]}"}
    ).json()
    assert plain["member_cap"] is None
