"""Dependencies fail soft: with its Redis stopped under a live server the gateway keeps serving,
keys verified against PostgreSQL and rate limits counted per process, warning once, not per
request; when Redis comes back it is used again. A real redis-server process, stopped and
started by the test."""

import logging
import shutil
import subprocess
import time

import openai
import pytest
from redis import Redis

from apps.credits.selectors import ledger_problems
from apps.gateway.state import RedisStore
from apps.keys.services import api_key_revoke
from apps.usage.models import UsageRecord
from tests.keys.factories import make_key
from tests.servers import free_port

from .conftest import drain

HELLO = [{"role": "user", "content": "Hello!"}]


@pytest.fixture
def private_redis():
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    args = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]

    def start():
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        client = Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                return process
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    state = {"process": start(), "port": port, "start": start}
    yield state
    state["process"].terminate()
    state["process"].wait(timeout=10)


def test_a_redis_outage_under_a_live_server_keeps_the_api_answering(
    api, customer, client_for, private_redis, caplog
):
    user, account, secret = customer
    gateway = api.gateway
    saved = gateway.store
    gateway.store = RedisStore(f"redis://127.0.0.1:{private_redis['port']}/0")
    try:
        client = client_for(secret)
        assert client.chat.completions.create(model="demo-chat", messages=HELLO).choices
        private_redis["process"].terminate()  # Redis goes away
        private_redis["process"].wait(timeout=10)
        with caplog.at_level(logging.WARNING, logger="opencodex.gateway.state"):
            for _ in range(20):
                answer = client.chat.completions.create(model="demo-chat", messages=HELLO)
                assert answer.choices[0].message.content.startswith("[demo]")
        warnings = [r for r in caplog.records if "Redis is unreachable" in r.getMessage()]
        assert len(warnings) == 1  # once per interval, not per request
        # Keys are still checked, against PostgreSQL: a revoked key is refused within seconds.
        other_key, other = make_key(user, name="other")
        assert client_for(other).models.list().data
        api_key_revoke(user_id=user.pk, key_id=other_key.pk, actor_id=user.pk)
        with pytest.raises(openai.AuthenticationError):
            client_for(other).models.list()
        # Rate limits still hold, counted in this process.
        _, limited = make_key(user, name="limited", rpm_limit=2)
        limited_client = client_for(limited)
        limited_client.models.list()
        limited_client.models.list()
        with pytest.raises(Exception, match="Rate limit"):
            limited_client.models.list()
        private_redis["process"] = private_redis["start"]()  # Redis is back
        time.sleep(1.1)
        assert client.chat.completions.create(model="demo-chat", messages=HELLO).choices
        assert not gateway.store.down
        assert Redis(port=private_redis["port"]).keys("ocx:rl:*")  # counting in Redis again
    finally:
        gateway.store = saved
    drain(api)
    assert UsageRecord.objects.filter(user=user, status=200).count() == 22
    account.refresh_from_db()
    assert account.held == 0 and ledger_problems() == []


def test_deactivating_a_user_in_the_admin_stops_their_keys_at_once(
    api, customer, client_for, client
):
    from tests.factories import UserFactory

    user, _, secret = customer
    sdk = client_for(secret)
    assert sdk.models.list().data  # the key's facts are now cached
    assert sdk.models.list().data
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.post(
        f"/admin/accounts/user/{user.pk}/change/",
        {"email": user.email, "name": "", "is_staff": "", "is_superuser": ""},  # inactive
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    user.refresh_from_db()
    assert not user.is_active
    with pytest.raises(openai.AuthenticationError):
        sdk.models.list()


@pytest.mark.parametrize("money_path", ["pg", "orm"], indirect=True)
def test_after_postgresql_drops_every_connection_the_next_request_is_served(
    api, money_path, customer, client_for
):
    from django.db import connection

    user, _, secret = customer
    client = client_for(secret)
    assert client.chat.completions.create(model="demo-chat", messages=HELLO).choices
    with connection.cursor() as cursor:  # what a PostgreSQL restart does to open connections
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert cursor.fetchone()[0] >= 1
    api.gateway._routes = (0.0, api.gateway._routes[1])  # the catalog is due for a refresh
    for _ in range(3):
        answer = client.chat.completions.create(model="demo-chat", messages=HELLO)
        assert answer.choices[0].message.content.startswith("[demo]")
    drain(api)
    assert UsageRecord.objects.filter(user=user, status=200).count() == 4
    assert ledger_problems() == []


def test_a_database_outage_is_a_fast_503_with_retry_after(api, customer, client_for, monkeypatch):
    from psycopg_pool import PoolTimeout

    user, _, secret = customer

    async def unavailable(*args, **kwargs):
        raise PoolTimeout("couldn't get a connection after 2.00 sec")

    monkeypatch.setattr(api.gateway.meter, "hold_exact", unavailable)
    with pytest.raises(openai.APIStatusError) as exc:
        client_for(secret).chat.completions.create(model="demo-chat", messages=HELLO)
    assert exc.value.status_code == 503
    assert exc.value.response.headers["retry-after"] == "2"
    assert exc.value.body["code"] == "service_unavailable"
    drain(api)
    record = UsageRecord.objects.get(user=user)
    assert (record.status, record.error_code) == (503, "database_unavailable")


def test_metrics_count_requests_upstream_latency_and_first_bytes(
    api, customer, client_for, client, settings
):
    settings.METRICS_TOKEN = "t0ken"
    _, _, secret = customer
    sdk = client_for(secret)
    sdk.chat.completions.create(model="demo-chat", messages=HELLO)
    list(sdk.chat.completions.create(model="demo-chat", messages=HELLO, stream=True))
    with pytest.raises(openai.BadRequestError):
        sdk.chat.completions.create(model="gpt-99", messages=HELLO)
    drain(api)
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer t0ken").content.decode()
    assert 'ocx_requests_total{model="demo-chat",protocol="chat",status="200"}' in text
    assert 'ocx_requests_total{model="other",protocol="chat",status="400"}' in text  # bounded
    assert 'ocx_upstream_seconds_count{provider="demo"}' in text
    assert 'ocx_time_to_first_byte_seconds_count{protocol="chat"}' in text
    assert "ocx_holds_open 0.0" in text and "ocx_rollup_lag_seconds" in text
    assert "ocx_settlement_lag_seconds_count" in text
    assert "ocx_celery_queue_length" in text


def test_the_pool_reconnects_within_a_second_of_the_database_coming_back():
    from apps.gateway.pg import CappedBackoff

    attempt, delays = CappedBackoff(timeout=300), []
    for step in range(12):
        attempt.update_delay(step * 1.0)
        delays.append(attempt.delay)
    assert 0.15 < delays[0] < 0.25 and max(delays) == 1.0  # psycopg_pool's own reaches 2,048 s


def test_no_connection_within_the_pool_timeout_is_not_waited_for_twice():
    """A hold that finds no connection fails at once (503), not after a second full wait."""
    import asyncio
    import threading

    from psycopg_pool import PoolTimeout

    from apps.gateway.pg import GatewayPool, PgMoney

    outcome = {}

    def run():
        async def main():
            money = PgMoney()
            money.pool = GatewayPool(
                "host=127.0.0.1 port=1 dbname=none connect_timeout=1",
                min_size=1,
                timeout=0.2,
                open=False,
            )
            await money.pool.open()
            checks = []

            async def recover():
                checks.append(1)

            money.recover = recover
            try:
                await money.hold(
                    request_id="r",
                    account_id=1,
                    key_id=1,
                    limited=False,
                    amount=1,
                    now=None,
                    expires_at=None,
                )
            except PoolTimeout:
                outcome["timeout"] = True
            outcome["checks"] = len(checks)
            await money.pool.close(timeout=0)

        asyncio.run(main())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    assert outcome == {"timeout": True, "checks": 0}
