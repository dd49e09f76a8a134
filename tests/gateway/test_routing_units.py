"""The router's collaborators and the retry loop as units, without a server or Redis: the plan's
order (tiers, weights, preferences, stickiness), the health policy (what cools down for how
long, what disables), the per-minute limits, sticky sessions, and ``try_plan``'s failover and
retries before the first byte."""

import time
from types import SimpleNamespace

import pytest
from django.test import override_settings

from apps.catalog.selectors import Target
from apps.gateway.attempts import Attempts, try_plan
from apps.gateway.router import Router
from apps.gateway.routing import health as health_module
from apps.gateway.routing import plan
from apps.gateway.routing.health import Health
from apps.gateway.routing.load import Load
from apps.gateway.routing.sessions import Sessions
from apps.gateway.state import MemoryStore
from apps.gateway.upstream import UpstreamError
from tests.threads import run_async


def target(name, provider="p", priority=0, weight=1, rpm=0, tpm=0):
    return Target(
        name=name, provider=provider, base_url="http://x", api_key="k", upstream_id=name,
        priority=priority, weight=weight, rpm=rpm, tpm=tpm,
    )  # fmt: skip


def pool(*targets):
    return SimpleNamespace(public_id="m", deployments=tuple(targets), demo=False)


class Spawned:
    """``spawn`` that keeps the background work (closed unrun: no Redis here)."""

    def __init__(self):
        self.coros = []

    def __call__(self, coro):
        self.coros.append(coro)

    def close(self):
        for coro in self.coros:
            coro.close()


@pytest.fixture
def spawn():
    spawned = Spawned()
    yield spawned
    spawned.close()


def error(status, code=None, retry_after=None, retryable=False):
    return UpstreamError(
        status, code, "failed", retryable=retryable, retry_after=retry_after, upstream_status=status
    )


# --- the plan ----------------------------------------------------------------------------------


def test_tiers_come_in_order_and_a_weight_of_zero_only_after_its_tier():
    a, b = target("a"), target("b", weight=3)
    zero, later = target("z", weight=0), target("l", priority=1)
    for _ in range(20):
        order = plan.ordered([later, zero, a, b])
        assert set(order[:2]) == {a, b} and order[2:] == [zero, later]


def test_a_heavier_deployment_comes_first_more_often():
    light, heavy = target("light", weight=1), target("heavy", weight=9)
    firsts = [plan.ordered([light, heavy])[0] for _ in range(400)]
    assert firsts.count(heavy) > firsts.count(light) * 2


def test_preferences_order_by_provider_then_measured_speed():
    a, b, c = target("a", "one"), target("b", "two"), target("c", "three")
    speed = {"a": (300.0, 10.0), "b": (100.0, 50.0)}
    by_order = SimpleNamespace(order=["three"], sort=None)
    assert sorted([a, b, c], key=plan.preference_key(by_order, speed))[0] == c
    fastest = SimpleNamespace(order=[], sort="latency")
    assert sorted([a, b, c], key=plan.preference_key(fastest, speed)) == [c, b, a]  # c unmeasured
    busiest = SimpleNamespace(order=[], sort="throughput")
    assert sorted([a, b, c], key=plan.preference_key(busiest, speed)) == [c, b, a]
    assert not plan.preferred(None) and not plan.preferred(SimpleNamespace(order=[], sort="price"))


def test_stick_moves_the_sessions_deployment_first():
    a, b, c = target("a"), target("b"), target("c")
    order = [a, b, c]
    plan.stick(order, "c")
    assert order == [c, a, b]
    plan.stick(order, "gone")
    assert order == [c, a, b]


def test_a_cooling_deployment_is_planned_last_and_a_single_one_never_refused(spawn):
    router = Router(MemoryStore, spawn)
    a, b = target("a"), target("b")
    router.report(pool(a, b), a, error(429, retry_after=30))
    for _ in range(10):
        assert router.plan(pool(a, b)) == [b, a]
    assert router.plan(pool(a)) == [a]  # a model with one deployment is never refused
    assert router.state(a)["cooling_for"] > 25


# --- health ------------------------------------------------------------------------------------


@override_settings(GATEWAY_COOLDOWN_SECONDS=11, GATEWAY_DISABLE_SECONDS=600)
@pytest.mark.parametrize(
    ("failure", "cooled", "disabled"),
    [
        (error(429, retry_after=7), 7, ""),
        (error(429), 11, ""),
        (error(401), 600, "key refused"),
        (error(429, code="insufficient_quota"), 600, "no quota"),
        (error(502, retryable=True), 0, ""),  # one failure is no burst
        (error(400), 0, ""),
    ],
)
def test_what_a_failure_cools_down_or_disables(spawn, failure, cooled, disabled):
    health = Health(MemoryStore, spawn)
    now = time.monotonic()
    health.outcome(target("a"), failure, now)
    assert health.cool.get("a", now) - now == pytest.approx(cooled, abs=0.01)
    assert health.disabled.get("a", "") == disabled


@override_settings(GATEWAY_COOLDOWN_SECONDS=11)
def test_a_burst_of_failures_cools_down_and_a_success_enables_again(spawn):
    health = Health(MemoryStore, spawn)
    a, now = target("a"), time.monotonic()
    for ok in (True, True, False, False):
        health.outcome(a, None if ok else error(502, retryable=True), now)
    assert "a" not in health.cool  # 2 of 4: not more than half, nor 5 attempts
    health.outcome(a, error(502, retryable=True), now)
    assert health.cool["a"] == pytest.approx(now + 11)  # 3 of 5
    health.outcome(a, error(401), now)
    assert health.disabled["a"] == "key refused"
    health.outcome(a, None, now)
    assert "a" not in health.disabled


def test_a_shared_cooldown_is_honoured_and_one_ended_on_purpose_clears(spawn, monkeypatch):
    # Redis holds wall-clock deadlines; this process counts on its monotonic clock (both fixed).
    clocks = SimpleNamespace(time=lambda: 1_700_000_000.0, monotonic=lambda: 500.0)
    monkeypatch.setattr(health_module, "time", clocks)
    health = Health(MemoryStore, spawn)
    health.disabled["b"] = "key refused"
    health.absorb(["a", "b", "c"], ["1700000060.0", "1699999999.0", None])
    assert health.cool["a"] == pytest.approx(560.0)
    assert "b" not in health.disabled and "c" not in health.cool


# --- limits and sessions -----------------------------------------------------------------------


def test_a_limited_deployment_is_full_for_the_rest_of_its_minute(spawn):
    load = Load(MemoryStore, spawn)
    limited, free = target("l", rpm=2, tpm=100), target("f")
    minute = int(time.time() // 60)
    assert not load.full(limited, minute) and not load.full(free, minute)
    load.count("l", 1, 0)
    load.count("f", 1, 0)  # not limited: not counted
    assert not load.full(limited, minute) and "f" not in load.load
    load.absorb(["l"], [b"2", None], minute)  # every process's count: its rpm
    assert load.full(limited, minute) and not load.full(limited, minute + 1)
    assert Load.keys([limited, free], minute)[0] == ["l"]


@override_settings(GATEWAY_STICKY_SECONDS=300)
def test_a_session_keeps_its_deployment_while_it_is_idle_less_than_its_time(spawn):
    sessions, route = Sessions(MemoryStore, spawn), pool(target("a"), target("b"))
    now = time.monotonic()
    sessions.served(route, "s1", "b", now)
    assert sessions.kept(route, "s1", now + 299) == "b"
    assert sessions.kept(route, "s1", now + 301) is None
    assert sessions.kept(route, "other", now) is None
    shared = len(spawn.coros)
    sessions.served(route, "s1", "b", now + 1)  # unchanged and fresh: not shared again
    assert len(spawn.coros) == shared


# --- the loop before the first byte ------------------------------------------------------------


def attempt_all(outcomes, plan_, retries=0):
    """``try_plan`` over ``plan_``, each call answering the next of ``outcomes``."""
    calls, reports = [], []
    outcomes = list(outcomes)

    async def call(t):
        calls.append(t.name if t else None)
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    attempts = Attempts(retries)
    try:
        result = run_async(try_plan(call, attempts, plan_, lambda t, e: reports.append(e)))
    except UpstreamError as exc:
        result = exc
    return result, calls, reports, attempts


def test_failover_moves_to_the_next_deployment_and_names_the_one_that_answered():
    a, b = target("a"), target("b")
    result, calls, reports, attempts = attempt_all([error(429, retry_after=9), "ok"], [a, b])
    assert result == "ok" and calls == ["a", "b"] and attempts.served is b
    assert [s for _, s, _ in attempts.chain] == [429, 200] and reports[1] is None


def test_a_clients_error_is_never_retried_anywhere():
    result, calls, _, _ = attempt_all([error(400)], [target("a"), target("b")], retries=2)
    assert isinstance(result, UpstreamError) and result.status == 400 and calls == ["a"]


def test_retries_apply_to_the_last_deployment_within_the_policy():
    flaky = error(502, retryable=True, retry_after=0)
    result, calls, _, _ = attempt_all([flaky, flaky, "ok"], [target("a")], retries=2)
    assert result == "ok" and calls == ["a", "a", "a"]
    result, calls, _, _ = attempt_all([flaky, flaky], [target("a")], retries=1)
    assert isinstance(result, UpstreamError) and calls == ["a", "a"]


def test_when_every_deployment_is_rate_limited_the_soonest_retry_after_is_told():
    result, _, _, _ = attempt_all(
        [error(429, retry_after=30), error(429, retry_after=5)], [target("a"), target("b")]
    )
    assert result.status == 429 and result.retry_after == 5
