"""Routing over pools of deployments, through the public API with the real openai SDK against
scripted upstreams: failover before the first byte (429, 5xx, a refused key), cooldowns that
honour Retry-After and are shared through Redis, client errors never retried, the soonest
Retry-After when every deployment is limited, sticky sessions, and each request charged once
at the model's price with its attempt chain recorded."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from apps.catalog.selectors import catalog_routes
from apps.credits.selectors import ledger_problems
from apps.gateway.router import COOL_PREFIX, Router
from apps.gateway.router import LOAD_PREFIX as LOAD
from apps.gateway.state import RedisStore
from apps.gateway.upstream import UpstreamError
from apps.usage.models import UsageRecord
from apps.usage.selectors import usage_charge_problems
from tests.keys.factories import make_key

from . import fake_upstream
from .conftest import drain, wait_for
from .test_api import HELLO, post
from .test_outages import private_redis  # noqa: F401 (a fixture)


def forget_routing_state(router, settings):
    """This process's routing state and the shared one in Redis (an earlier test or run may
    have cooled a deployment there)."""
    import redis

    from apps.gateway.router import LOAD_PREFIX, STICKY_PREFIX

    router.cool.clear()
    router.sticky.clear()
    router.disabled.clear()
    router.synced.clear()
    router.recent.clear()
    router.load.clear()
    router.limited.clear()
    router.speed.clear()
    server = redis.Redis.from_url(settings.REDIS_URL)
    for prefix in (COOL_PREFIX, STICKY_PREFIX, LOAD_PREFIX):
        for key in server.scan_iter(match=prefix + "*"):
            server.delete(key)


@pytest.fixture
def router(api, settings):
    router = api.gateway.rt.router
    forget_routing_state(router, settings)
    yield router
    forget_routing_state(router, settings)


def record_of(response) -> UsageRecord:
    return UsageRecord.objects.get(request_id=response.headers["x-request-id"])


def test_a_rate_limited_deployment_fails_over_and_cools_down_for_its_retry_after(
    api, customer, router
):
    _, _, secret = customer
    before = fake_upstream.attempts["pool-429"]
    first = post(api, secret, {"model": "pool-failover", "messages": HELLO})
    assert first.status_code == 200, first.text
    assert first.json()["model"] == "pool-failover"
    assert fake_upstream.attempts["pool-429"] == before + 1
    drain(api)
    record = record_of(first)
    assert record.deployment == "fake:FAKE_UPSTREAM_KEY:pool-ok"
    assert [(a[0], a[1]) for a in record.attempts] == [
        ("fake:FAKE_UPSTREAM_KEY:pool-429", 429),
        ("fake:FAKE_UPSTREAM_KEY:pool-ok", 200),
    ]
    # Cooling for its Retry-After (30 s): the next requests go straight to the other one.
    state = router.state(catalog_routes()["pool-failover"].deployments[0])
    assert 25 < state["cooling_for"] <= 30
    for _ in range(3):
        assert post(api, secret, {"model": "pool-failover", "messages": HELLO}).status_code == 200
    assert fake_upstream.attempts["pool-429"] == before + 1
    drain(api)
    assert ledger_problems() == [] and usage_charge_problems() == []
    # Seen in /metrics, per deployment.
    from apps.core.metrics import exposition

    text = exposition().decode()
    limited = 'deployment="fake:FAKE_UPSTREAM_KEY:pool-429"'
    assert f'ocx_upstream_attempts_total{{{limited},status="429"}}' in text
    assert f'ocx_deployment_cooldowns_total{{{limited},reason="rate_limited"}}' in text


def test_a_failing_deployment_fails_over_plain_and_streamed(api, customer, client_for, router):
    _, _, secret = customer
    client = client_for(secret)
    answer = client.chat.completions.create(model="pool-5xx", messages=HELLO)
    assert answer.choices[0].message.content
    chunks = list(client.chat.completions.create(model="pool-5xx", messages=HELLO, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    drain(api)
    for record in UsageRecord.objects.filter(model="pool-5xx"):
        assert record.status == 200 and record.deployment.endswith(":pool-ok")
        assert record.attempts[0][1] == 500
    assert ledger_problems() == []


def test_a_refused_key_is_disabled_and_its_sibling_serves(api, customer, router):
    """Two keys of one provider are two deployments: the dead one answers 401 once, is
    disabled, and every request is served by the live one."""
    _, _, secret = customer
    dead = next(t for t in catalog_routes()["pool-keys"].deployments if "DEAD" in t.name)
    statuses = []
    for _ in range(30):  # the pick is weighted random: until the dead key has been tried
        statuses.append(post(api, secret, {"model": "pool-keys", "messages": HELLO}).status_code)
        if router.state(dead)["disabled"]:
            break
    statuses += [post(api, secret, {"model": "pool-keys", "messages": HELLO}).status_code
                 for _ in range(5)]  # fmt: skip
    assert set(statuses) == {200}
    assert router.state(dead)["disabled"] == "key refused"
    drain(api)
    deployments = set(
        UsageRecord.objects.filter(model="pool-keys").values_list("deployment", flat=True)
    )
    assert deployments == {"pool:POOL_KEY_LIVE:pool-keyed"}
    refused = [
        a for r in UsageRecord.objects.filter(model="pool-keys") for a in r.attempts if a[1] == 401
    ]
    assert len(refused) == 1  # tried once: disabled after


def test_when_every_deployment_is_limited_the_client_gets_the_soonest_retry_after(
    api, customer, client_for, router
):
    _, _, secret = customer
    with pytest.raises(openai.RateLimitError) as exc:
        client_for(secret).chat.completions.create(model="pool-all-limited", messages=HELLO)
    assert exc.value.response.headers["retry-after"] == "7"


def test_a_client_error_is_never_failed_over(api, customer, router):
    _, _, secret = customer
    before = fake_upstream.attempts["pool-ok"]
    response = post(api, secret, {"model": "pool-client-error", "messages": HELLO})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "context_length_exceeded"
    assert fake_upstream.attempts["pool-ok"] == before


def test_a_session_stays_on_one_deployment_and_sessionless_traffic_spreads(api, customer, router):
    _, _, secret = customer
    for session in ("alice", "bob"):
        served = set()
        for _ in range(8):
            reply = post(api, secret, {"model": "pool-sticky", "messages": HELLO, "user": session})
            assert reply.status_code == 200
            served.add(reply.headers["x-request-id"])
        drain(api)
        deployments = set(
            UsageRecord.objects.filter(request_id__in=served).values_list("deployment", flat=True)
        )
        assert len(deployments) == 1, (session, deployments)
    spread = set()
    for _ in range(40):
        reply = post(api, secret, {"model": "pool-sticky", "messages": HELLO})
        spread.add(reply.headers["x-request-id"])
    drain(api)
    used = set(
        UsageRecord.objects.filter(request_id__in=spread).values_list("deployment", flat=True)
    )
    assert used == {"fake:FAKE_UPSTREAM_KEY:pool-ok", "fake:FAKE_UPSTREAM_KEY:pool-ok-2"}


def test_cooldowns_are_shared_between_processes_through_redis(api, settings):
    """A 429 one process saw cools the deployment for every other process (a second router on
    the same Redis stands for another worker or node)."""
    import asyncio

    route = catalog_routes()["pool-failover"]
    limited, healthy = route.deployments
    store_a, store_b = RedisStore(settings.REDIS_URL), RedisStore(settings.REDIS_URL)

    async def scenario():
        pending = []
        spawn = lambda coro: pending.append(asyncio.ensure_future(coro))  # noqa: E731
        here, there = Router(lambda: store_a, spawn), Router(lambda: store_b, spawn)
        await store_a.redis.delete(COOL_PREFIX + limited.name)
        assert there.plan(route)[0] == limited  # not cooling anywhere yet
        error = UpstreamError(429, "rate_limit_exceeded", "slow down", retryable=False,
                              retry_after=20, upstream_status=429)  # fmt: skip
        here.report(route, limited, error)
        await asyncio.gather(*pending)
        there.synced.clear()
        there.plan(route)  # starts the background read
        await asyncio.gather(*pending)
        order = there.plan(route)
        ttl = await store_b.redis.pttl(COOL_PREFIX + limited.name)
        await store_a.redis.delete(COOL_PREFIX + limited.name)
        await store_a.close()
        await store_b.close()
        return order, ttl

    with ThreadPoolExecutor(1) as own_loop:  # another test's loop may be running here
        order, ttl = own_loop.submit(asyncio.run, scenario()).result()
    assert order == [healthy, limited]  # the cooling one only as a last resort
    assert 15_000 < ttl <= 20_000


def test_fifty_concurrent_requests_failing_over_are_each_charged_once(api, customer, router):
    user, account, _ = customer
    _, secret = make_key(user, name="busy", rpm_limit=1000)
    barrier = threading.Barrier(50)

    def call(i):
        barrier.wait()
        model = "pool-5xx" if i % 2 else "pool-failover"
        return post(api, secret, {"model": model, "messages": HELLO}).status_code

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(call, range(50)))
    assert results == [200] * 50
    drain(api)
    records = UsageRecord.objects.filter(user=user, model__in=["pool-5xx", "pool-failover"])
    assert records.count() == 50 and len({r.request_id for r in records}) == 50
    assert all(r.deployment.endswith(":pool-ok") for r in records)
    account.refresh_from_db()
    assert account.held == 0
    assert ledger_problems() == [] and usage_charge_problems() == []


def test_the_owner_sees_which_provider_served_and_every_attempt_without_our_keys(
    api, customer, router
):
    from django.test import Client
    from django.urls import reverse

    user, _, secret = customer
    reply = post(api, secret, {"model": "pool-failover", "messages": HELLO})
    drain(api)
    browser = Client()
    browser.force_login(user)
    page = browser.get(
        reverse("console:request_detail", args=[reply.headers["x-request-id"]])
    ).content.decode()
    assert 'data-testid="served-by"' in page and "fake (pool-ok)" in page
    assert "HTTP 429" in page and "HTTP 200" in page
    assert "FAKE_UPSTREAM_KEY" not in page and "fake-upstream-key" not in page


# --- the client's fallback models (OpenRouter's `models`) -----------------------------------


def test_a_fallback_model_serves_when_the_model_fails_and_is_charged_at_its_own_prices(
    api, customer, client_for, router
):
    """`models` names models to try after `model`: the hold covers the dearest, the one that
    answers is named in the response and charged at its prices."""
    from apps.catalog.pricing import usage_cost, usage_from_provider
    from apps.credits.models import Hold

    secret = customer[2]
    client = client_for(secret)
    raw = client.chat.completions.with_raw_response.create(
        model="fake-fail-500",
        messages=HELLO,
        max_tokens=50,
        extra_body={"models": ["fake-large"]},
    )
    answer = raw.parse()
    assert answer.model == "fake-large"
    hold = Hold.objects.get(reference=raw.headers["x-request-id"])
    large = catalog_routes()["fake-large"]
    assert hold.amount >= 50 * large.output_price // 1_000_000  # the dearer model's output
    drain(api)
    record = record_of(raw)
    assert record.model == "fake-large" and record.status == 200
    assert [a[1] for a in record.attempts][-1] == 200 and record.attempts[0][1] == 500
    usage = usage_from_provider(answer.usage.model_dump())
    assert record.cost == usage_cost(large, usage)
    assert "models" not in fake_upstream.received[-1]  # ours, not the provider's
    assert ledger_problems() == [] and usage_charge_problems() == []


def test_fallback_models_through_the_anthropic_sdk_and_bad_lists_refused(api, customer, router):
    import anthropic

    _, _, secret = customer
    claude = anthropic.Anthropic(api_key=secret, base_url=f"{api.url}/api", max_retries=0)
    message = claude.messages.create(
        model="fake-fail-500",
        max_tokens=20,
        messages=HELLO,
        extra_body={"models": ["fake-ok"]},
    )
    assert message.model == "fake-ok"
    with pytest.raises(anthropic.NotFoundError) as exc:
        claude.messages.create(
            model="fake-ok", max_tokens=20, messages=HELLO, extra_body={"models": ["nope"]}
        )
    assert "'nope' in 'models'" in exc.value.message
    refused = post(api, secret, {"model": "fake-ok", "messages": HELLO, "models": "fake-large"})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "models"
    drain(api)


def test_a_disabled_deployment_alerts_staff_is_probed_and_comes_back_when_it_answers(
    api, customer, router, monkeypatch
):
    """A refused key takes its deployment out of service for every process (Redis), staff get
    an e-mail; the beat's probe keeps it out while it refuses, and brings it back when the key
    works again (here: the operator fixed the key)."""
    from django.core import mail

    from apps.catalog.selectors import deployments_disabled
    from apps.catalog.services import deployments_probe_disabled
    from tests.factories import UserFactory

    UserFactory(is_staff=True, email="ops@example.com")
    mail.outbox.clear()
    _, _, secret = customer
    dead = next(t for t in catalog_routes()["pool-keys"].deployments if "DEAD" in t.name)
    for _ in range(30):
        post(api, secret, {"model": "pool-keys", "messages": HELLO})
        if router.state(dead)["disabled"]:
            break
    drain(api)
    deadline = time.monotonic() + 5
    while dead.name not in deployments_disabled() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert deployments_disabled() == {dead.name: "key refused"}
    while not mail.outbox and time.monotonic() < deadline:
        time.sleep(0.05)
    assert mail.outbox and dead.name in mail.outbox[-1].subject
    assert mail.outbox[-1].to == ["ops@example.com"]
    # The probe: still refused, so still out; the key fixed, back in service everywhere.
    assert deployments_probe_disabled() == {dead.name: "HTTP 401"}
    assert dead.name in deployments_disabled()
    monkeypatch.setenv("POOL_KEY_DEAD", "live-key")
    assert deployments_probe_disabled() == {dead.name: "HTTP 200"}
    assert deployments_disabled() == {}
    router.synced.clear()
    deadline = time.monotonic() + 5
    while router.state(dead)["disabled"] and time.monotonic() < deadline:
        post(api, secret, {"model": "pool-keys", "messages": HELLO})  # the gateway re-reads it
        time.sleep(0.05)
        router.synced.clear()
    assert router.state(dead) == {**router.state(dead), "disabled": "", "cooling_for": 0.0}


def test_a_model_the_demo_answers_names_the_demo_as_its_upstream(api):
    """A catalog model whose provider has no key is answered by the built-in demo on make run:
    the header and the usage record say so, not the provider it would have had."""
    from dataclasses import replace

    from apps.gateway.router import _single

    route = replace(catalog_routes()["pool-failover"], demo=True, deployments=())
    target = _single(route)
    assert target.provider == "demo" and target.name.startswith("demo:")


# --- the client's provider preferences (OpenRouter's `provider`) -----------------------------


def served_by(api, secret, prefs, model="pool-providers", times=6, **extra):
    providers = set()
    for _ in range(times):
        body = {"model": model, "messages": HELLO, "provider": prefs, **extra}
        response = post(api, secret, body)
        assert response.status_code == 200, response.text
        providers.add(response.headers["x-opencodex-upstream"])
    return providers


def test_provider_only_ignore_and_order_choose_who_serves(api, customer, router):
    _, _, secret = customer
    assert served_by(api, secret, {"only": ["alt"]}) == {"alt"}
    assert served_by(api, secret, {"ignore": ["alt"]}) == {"fake"}
    assert served_by(api, secret, {"order": ["alt", "fake"]}) == {"alt"}
    assert served_by(api, secret, {"order": ["fake"], "allow_fallbacks": False}) == {"fake"}
    assert "provider" not in fake_upstream.received[-1]  # ours, not the provider's
    drain(api)
    record = UsageRecord.objects.order_by("-created_at").first()
    assert record.deployment == "fake:FAKE_UPSTREAM_KEY:pool-ok"
    # Without preferences the pool spreads over both.
    assert served_by(api, secret, {}, times=30) == {"alt", "fake"}
    drain(api)


def test_an_ordered_provider_that_fails_gives_way_unless_fallbacks_are_refused(
    api, customer, router
):
    _, _, secret = customer
    # pool-failover: fake's pool-429 (tier 0) and pool-ok (tier 1), both of provider "fake".
    ok = post(api, secret, {"model": "pool-failover", "messages": HELLO,
                            "provider": {"order": ["fake"]}})  # fmt: skip
    assert ok.status_code == 200
    only_nobody = {"order": ["nobody"], "allow_fallbacks": False}
    refused = post(api, secret, {"model": "pool-providers", "messages": HELLO,
                                 "provider": only_nobody})  # fmt: skip
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "no_provider_matches" and error["param"] == "provider"
    assert "alt, fake" in error["message"]  # who does serve it
    drain(api)


def test_max_price_and_sort_by_price_choose_among_the_model_and_its_fallbacks(
    api, customer, client_for, router
):
    from apps.catalog.pricing import usage_cost, usage_from_provider

    secret = customer[2]
    client = client_for(secret)
    # pool-dear sells output at $25 per 1M: over the client's $10, so its fallback serves.
    raw = client.chat.completions.with_raw_response.create(
        model="pool-dear",
        messages=HELLO,
        max_tokens=20,
        extra_body={"models": ["pool-providers"], "provider": {"max_price": {"completion": 10}}},
    )
    answer = raw.parse()
    assert answer.model == "pool-providers"
    drain(api)
    record = record_of(raw)
    assert record.model == "pool-providers"
    served = catalog_routes()["pool-providers"]
    assert record.cost == usage_cost(served, usage_from_provider(answer.usage.model_dump()))
    # Cheapest first when asked, the model named first otherwise.
    cheap = client.chat.completions.create(
        model="pool-dear",
        messages=HELLO,
        extra_body={"models": ["pool-providers"], "provider": {"sort": "price"}},
    )
    assert cheap.model == "pool-providers"
    dear = client.chat.completions.create(
        model="pool-dear", messages=HELLO, extra_body={"models": ["pool-providers"]}
    )
    assert dear.model == "pool-dear"
    # Nothing within the price: a 400 naming the field, nothing held or charged.
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(
            model="pool-dear", messages=HELLO, extra_body={"provider": {"max_price": {"prompt": 1}}}
        )
    assert exc.value.code == "no_provider_matches"
    drain(api)
    assert ledger_problems() == [] and usage_charge_problems() == []


def test_sort_by_latency_and_throughput_uses_what_each_deployment_measured(api, customer, router):
    _, _, secret = customer
    assert served_by(api, secret, {"only": ["alt"]}, times=1) == {"alt"}
    assert served_by(api, secret, {"only": ["fake"]}, times=1) == {"fake"}
    drain(api)
    fast, slow = "fake:FAKE_UPSTREAM_KEY:pool-ok", "alt:FAKE_UPSTREAM_KEY:pool-ok-2"
    assert set(router.speed) >= {fast, slow}  # measured by the requests above
    router.speed[fast], router.speed[slow] = (5.0, 10.0), (500.0, 900.0)
    assert served_by(api, secret, {"sort": "latency"}, times=4) == {"fake"}
    router.speed[fast], router.speed[slow] = (5.0, 10.0), (500.0, 900.0)
    assert served_by(api, secret, {"sort": "throughput"}, times=4) == {"alt"}
    drain(api)


def test_provider_preferences_through_the_anthropic_sdk_and_bad_ones_refused(api, customer, router):
    import anthropic

    _, _, secret = customer
    claude = anthropic.Anthropic(api_key=secret, base_url=f"{api.url}/api", max_retries=0)
    raw = claude.messages.with_raw_response.create(
        model="pool-providers",
        max_tokens=20,
        messages=HELLO,
        extra_body={"provider": {"only": ["alt"]}},
    )
    assert raw.headers["x-opencodex-upstream"] == "alt"
    assert raw.parse().model == "pool-providers"
    with pytest.raises(anthropic.BadRequestError) as exc:
        claude.messages.create(
            model="pool-providers",
            max_tokens=20,
            messages=HELLO,
            extra_body={"provider": {"only": ["nobody"]}},
        )
    assert "matches 'provider'" in exc.value.message
    bad = [
        ({"provider": "alt"}, "provider"),
        ({"provider": {"sort": "cheapest"}}, "provider.sort"),
        ({"provider": {"order": "alt"}}, "provider.order"),
        ({"provider": {"data_collection": "deny"}}, "provider.data_collection"),
        ({"provider": {"allow_fallbacks": "no"}}, "provider.allow_fallbacks"),
        ({"provider": {"max_price": {"prompt": -1}}}, "provider.max_price.prompt"),
        ({"provider": {"max_price": {"image": 1}}}, "provider.max_price.image"),
        ({"provider": {"max_price": {"prompt": "1"}}}, "provider.max_price.prompt"),
    ]
    for extra, param in bad:
        refused = post(api, secret, {"model": "pool-providers", "messages": HELLO, **extra})
        assert refused.status_code == 400, (extra, refused.text)
        assert refused.json()["error"]["param"] == param
    drain(api)


# --- zero completion insurance ------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_nothing_useful_came_back_nothing_is_charged(api, customer, stream):
    """No output and no finish reason, and no usage from the provider: not the prompt, not
    the request's price."""
    _, _, secret = customer
    response = post(api, secret, {"model": "fake-empty", "messages": HELLO, "stream": stream})
    assert response.status_code == 200, response.text
    drain(api)
    record = record_of(response)
    assert (record.cost, record.prompt_tokens, record.completion_tokens) == (0, 0, 0)
    assert ledger_problems() == [] and usage_charge_problems() == []


@pytest.mark.parametrize("stream", [False, True])
def test_an_empty_answer_the_provider_billed_is_charged_for_its_input_only(api, customer, stream):
    _, _, secret = customer
    body = {"model": "fake-empty-billed", "messages": HELLO, "stream": stream}
    response = post(api, secret, body)
    assert response.status_code == 200
    drain(api)
    record = record_of(response)
    route = catalog_routes()["fake-empty-billed"]
    assert (record.prompt_tokens, record.completion_tokens) == (9, 0)
    assert record.cost == 9 * route.input_price // 1_000_000 + route.request_price


def test_a_stream_that_errs_before_any_output_costs_nothing(api, customer):
    _, _, secret = customer
    body = {"model": "fake-empty-stream-error", "messages": HELLO, "stream": True}
    response = post(api, secret, body)
    assert response.status_code == 200 and '"error"' in response.text
    drain(api)
    record = record_of(response)
    assert record.status == 502 and record.cost == 0
    # Output that did arrive before an error is still charged (fake-stream-error).
    partial = post(api, secret, {"model": "fake-stream-error", "messages": HELLO, "stream": True})
    drain(api)
    assert record_of(partial).completion_tokens > 0 and record_of(partial).cost > 0
    assert ledger_problems() == [] and usage_charge_problems() == []


# --- a deployment's own limits (rpm, tpm) -------------------------------------------------


def same_minute(seconds_needed=15):
    """Wait for a fresh minute when fewer than ``seconds_needed`` are left of this one (the
    limits count per minute)."""
    left = 60 - time.time() % 60
    if left < seconds_needed:
        time.sleep(left + 0.1)


def test_a_deployment_at_its_requests_per_minute_gives_way_to_the_next(api, customer, router):
    _, _, secret = customer
    same_minute()
    served = []
    for _ in range(4):
        response = post(api, secret, {"model": "pool-rpm", "messages": HELLO})
        assert response.status_code == 200
        served.append(response.headers["x-opencodex-upstream"])
        drain(api)  # the shared count is back from Redis before the next request
    assert served == ["fake", "fake", "alt", "alt"]  # rpm = 2 at fake, then tier 1


def test_a_deployment_at_its_tokens_per_minute_gives_way_to_the_next(api, customer, router):
    _, _, secret = customer
    same_minute()
    first = post(api, secret, {"model": "pool-tpm", "messages": HELLO})
    drain(api)
    second = post(api, secret, {"model": "pool-tpm", "messages": HELLO})
    drain(api)
    # The first took 17 tokens (7 in, 10 out) of fake's 10 a minute.
    assert [first.headers["x-opencodex-upstream"], second.headers["x-opencodex-upstream"]] == [
        "fake",
        "alt",
    ]


def test_limits_are_counted_across_processes_through_redis(api, settings):
    """Requests another process sent count against a deployment's rpm here: every increment's
    answer is the total of all processes."""
    import asyncio

    route = catalog_routes()["pool-rpm"]
    limited, spare = route.deployments
    store_a, store_b = RedisStore(settings.REDIS_URL), RedisStore(settings.REDIS_URL)

    async def scenario():
        pending = []
        spawn = lambda coro: pending.append(asyncio.ensure_future(coro))  # noqa: E731
        here, there = Router(lambda: store_a, spawn), Router(lambda: store_b, spawn)
        minute = int(time.time() // 60)
        for kind in "rt":
            await store_a.redis.delete(f"{LOAD}{limited.name}:{minute}:{kind}")
        assert here.plan(route)[0] == limited and there.plan(route)[0] == limited
        here.report(route, limited)  # one request here...
        await asyncio.gather(*pending)
        there.report(route, limited)  # ...and one there: 2 in all, its rpm
        await asyncio.gather(*pending)
        here.synced.clear()  # a second on: this process reads the shared state again
        here.plan(route)
        await asyncio.gather(*pending)
        order = here.plan(route), there.plan(route)
        for kind in "rt":
            await store_a.redis.delete(f"{LOAD}{limited.name}:{minute}:{kind}")
        await store_a.close()
        await store_b.close()
        return order

    same_minute(5)
    with ThreadPoolExecutor(1) as own_loop:
        here, there = own_loop.submit(asyncio.run, scenario()).result()
    assert here == [spare, limited] and there == [spare, limited]


# --- two nodes ----------------------------------------------------------------------------


def test_two_nodes_on_one_redis_share_cooldowns_and_route_alone_without_it(
    api,
    customer,
    router,
    tmp_path,
    private_redis,  # noqa: F811 (the fixture imported above)
):
    """Node A (this process's server) sees a 429; node B (a gateway process of its own on the
    same database and Redis) sends its next request straight to the healthy deployment. With
    Redis stopped, both keep routing on what they know."""
    from apps.gateway.state import RedisStore

    from .test_crash import start_gateway
    from .test_outages import free_port

    _, _, secret = customer
    shared = f"redis://127.0.0.1:{private_redis['port']}/0"
    rt = api.gateway.rt
    saved = rt.store
    rt.store = RedisStore(shared)
    port = free_port()
    node_b = start_gateway(
        port,
        tmp_path,
        REDIS_URL=shared,
        FAKE_UPSTREAM_KEY="fake-upstream-key",
        GATEWAY_SETTLE_WINDOW_MS="2",
    )
    body = {"model": "pool-failover", "messages": HELLO}
    headers = {"Authorization": f"Bearer {secret}"}
    try:
        before = fake_upstream.attempts["pool-429"]
        at_a = post(api, secret, body)
        assert at_a.status_code == 200 and fake_upstream.attempts["pool-429"] == before + 1
        time.sleep(0.3)  # node A writes the cooldown in the background
        at_b = httpx.post(f"http://127.0.0.1:{port}/api/v1/chat/completions", json=body,
                          headers=headers, timeout=30)  # fmt: skip
        assert at_b.status_code == 200
        assert fake_upstream.attempts["pool-429"] == before + 1  # B never tried it
        request_id = at_b.headers["x-request-id"]
        wait_for(lambda: UsageRecord.objects.filter(request_id=request_id).exists())
        assert [a[1] for a in record_of(at_b).attempts] == [200]
        # Redis goes away: each node routes on its own state and keeps answering.
        private_redis["process"].terminate()
        private_redis["process"].wait(timeout=10)
        for url in (api.url, f"http://127.0.0.1:{port}"):
            for _ in range(3):
                again = httpx.post(f"{url}/api/v1/chat/completions", json=body,
                                   headers=headers, timeout=30)  # fmt: skip
                assert again.status_code == 200, again.text
        assert fake_upstream.attempts["pool-429"] == before + 1  # still cooling on both
    finally:
        node_b.terminate()
        node_b.wait(timeout=20)
        rt.store = saved
    drain(api)
    assert ledger_problems() == [] and usage_charge_problems() == []


def test_a_deployment_that_hangs_past_the_timeout_fails_over(api, customer, router, tmp_path):
    """A gateway process with a 1 s first-byte timeout: the hanging deployment times out (504)
    and its sibling answers, within the request."""
    from .test_crash import start_gateway
    from .test_outages import free_port

    _, _, secret = customer
    port = free_port()
    node = start_gateway(
        port,
        tmp_path,
        FAKE_UPSTREAM_KEY="fake-upstream-key",
        GATEWAY_SETTLE_WINDOW_MS="2",
        GATEWAY_UPSTREAM_FIRST_BYTE_TIMEOUT="1",
    )
    try:
        reply = httpx.post(f"http://127.0.0.1:{port}/api/v1/chat/completions",
                           json={"model": "pool-hang", "messages": HELLO},
                           headers={"Authorization": f"Bearer {secret}"}, timeout=30)  # fmt: skip
        assert reply.status_code == 200, reply.text
        request_id = reply.headers["x-request-id"]
        wait_for(lambda: UsageRecord.objects.filter(request_id=request_id).exists())
        record = record_of(reply)
        assert [(a[0].rsplit(":", 1)[1], a[1]) for a in record.attempts] == [
            ("pool-hang", 504),
            ("pool-ok", 200),
        ]
    finally:
        node.terminate()
        node.wait(timeout=20)


def test_an_upstream_out_of_quota_is_taken_out_and_its_sibling_serves(api, customer, router):
    _, _, secret = customer
    before = fake_upstream.attempts["pool-no-quota"]
    first = post(api, secret, {"model": "pool-no-quota", "messages": HELLO})
    assert first.status_code == 200
    quota = catalog_routes()["pool-no-quota"].deployments[0]
    assert router.state(quota)["disabled"] == "no quota"
    for _ in range(3):
        assert post(api, secret, {"model": "pool-no-quota", "messages": HELLO}).status_code == 200
    assert fake_upstream.attempts["pool-no-quota"] == before + 1  # not tried again
    drain(api)
