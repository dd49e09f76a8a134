"""A live server (uvicorn in a thread, the real config.asgi application) on the test database,
beside a fake upstream; tests talk to it with the official openai SDK and plain HTTP."""

import os
import time

import pytest
from django.conf import settings
from django.core.management import call_command

from apps.core.money import MICRO
from apps.credits import services as credits
from tests.factories import UserFactory
from tests.keys.factories import make_key
from tests.servers import ServerThread

from . import fake_upstream


@pytest.fixture(scope="session")
def upstream_url():
    with ServerThread(fake_upstream.app) as server:
        yield server.url


# One live server per test process. Test modules elsewhere import these fixtures (each import is
# a fixture of its own to pytest), and the gateway application's clients (Redis, PostgreSQL
# pools) belong to the event loop that served it first: a second server would break both.
_LIVE: dict = {}


@pytest.fixture(scope="session")
def live_api(django_db_setup, upstream_url):
    """The whole product served over HTTP; yields its base URL."""
    if _LIVE:
        yield _LIVE["server"]
        return
    saved = {
        name: getattr(settings, name)
        for name in ("DEMO_UPSTREAM_BASE_URL", "GATEWAY_CATALOG_CACHE_SECONDS")
    }
    os.environ["FAKE_UPSTREAM_KEY"] = "fake-upstream-key"
    os.environ["POOL_KEY_DEAD"] = "dead-key"  # the scripted provider refuses it (401)
    os.environ["POOL_KEY_LIVE"] = "live-key"
    from config.asgi import application, gateway_application

    server = ServerThread(application)
    settings.DEMO_UPSTREAM_BASE_URL = f"{server.url}/_demo/v1"
    settings.GATEWAY_CATALOG_CACHE_SECONDS = 0
    with server:
        server.gateway = gateway_application.gateway
        # The session's server outlives each test's data (flushed after it): its minutely
        # journal recovery would find its own rotated files' outcomes "not recorded" and replay
        # them into the next test's tables. Recovery is tested on purpose (test_crash,
        # tests/usage/test_journal_batches.py), not in the background here.
        recovery = server.gateway.rt.recovery
        if recovery is not None:
            recovery.get_loop().call_soon_threadsafe(recovery.cancel)
        _LIVE["server"] = server
        try:
            yield server
        finally:
            _LIVE.clear()
    for name, value in saved.items():
        setattr(settings, name, value)


CATALOG = """
[providers.demo]
base_url = "https://demo.invalid/v1"
api_key_env = "OPENCODEX_TEST_UNSET_KEY"

[providers.fake]
base_url = "{upstream}/v1"
api_key_env = "FAKE_UPSTREAM_KEY"

[providers.native]
base_url = "{upstream}/v1"
api_key_env = "FAKE_UPSTREAM_KEY"
protocols = ["chat", "messages", "responses"]

[[models]]
id = "native"
provider = "native"
upstream_id = "native-model"
input_price = "3.00"
output_price = "15.00"
cached_input_price = "0.30"
cache_write_price = "3.75"
context_length = 200000
max_output = 8192

[[models]]
id = "native-overloaded"
provider = "native"
input_price = "3.00"
output_price = "15.00"
context_length = 200000
max_output = 8192

[[models]]
id = "native-forbidden"
provider = "native"
input_price = "3.00"
output_price = "15.00"
context_length = 200000
max_output = 8192

[[models]]
id = "native-error-event"
provider = "native"
input_price = "3.00"
output_price = "15.00"
context_length = 200000
max_output = 8192

[[models]]
id = "native-limited"
provider = "native"
input_price = "3.00"
output_price = "15.00"
context_length = 200000
max_output = 8192

[[models]]
id = "demo-chat"
provider = "demo"
family = "Demo"
input_price = "1.00"
output_price = "2.00"
context_length = 8192
max_output = 1024

[[models]]
id = "deepseek-chat"
provider = "demo"
family = "DeepSeek"
input_price = "0.27"
output_price = "1.10"
context_length = 65536
max_output = 8192
{fakes}

# --- pools of deployments (routing) ---
[providers.pool]
base_url = "{upstream}/v1"
api_key_envs = ["POOL_KEY_DEAD", "POOL_KEY_LIVE"]

[[models]]
id = "pool-failover"
provider = "fake"
upstream_id = "pool-429"
input_price = "1.00"
output_price = "2.00"
context_length = 8192
max_output = 1024
[[models.deployments]]
provider = "fake"
upstream_id = "pool-ok"
priority = 1

[[models]]
id = "pool-hang"
provider = "fake"
upstream_id = "pool-hang"
input_price = "1.00"
output_price = "2.00"
context_length = 8192
max_output = 1024
[[models.deployments]]
provider = "fake"
upstream_id = "pool-ok"
priority = 1

[[models]]
id = "pool-no-quota"
provider = "fake"
upstream_id = "pool-no-quota"
input_price = "1.00"
output_price = "2.00"
context_length = 8192
max_output = 1024
[[models.deployments]]
provider = "fake"
upstream_id = "pool-ok"
priority = 1

[[models]]
id = "pool-5xx"
provider = "fake"
upstream_id = "pool-500"
input_price = "1.00"
output_price = "2.00"
context_length = 8192
max_output = 1024
[[models.deployments]]
provider = "fake"
upstream_id = "pool-ok"
priority = 1

[[models]]
id = "pool-all-limited"
provider = "fake"
upstream_id = "pool-429"
input_price = "1.00"
output_price = "2.00"
context_length = 8192
max_output = 1024
[[models.deployments]]
provider = "fake"
upstream_id = "pool-429-soon"

[[models]]
id = "pool-client-error"
provider = "fake"
upstream_id = "reject-400"
input_price = "1.00"
output_price = "2.00"
context_length = 8192
max_output = 1024
[[models.deployments]]
provider = "fake"
upstream_id = "pool-ok"
priority = 1

[[models]]
id = "pool-keys"
provider = "pool"
upstream_id = "pool-keyed"
input_price = "1.00"
output_price = "2.00"
context_length = 8192
max_output = 1024

[providers.alt]
base_url = "{upstream}/v1"
api_key_env = "FAKE_UPSTREAM_KEY"

[[models]]
id = "pool-providers"
provider = "fake"
upstream_id = "pool-ok"
input_price = "1.00"
output_price = "2.00"
context_length = 8192
max_output = 1024

[[models.deployments]]
provider = "alt"
upstream_id = "pool-ok-2"

[[models]]
id = "pool-rpm"
provider = "fake"
upstream_id = "pool-ok"
rpm = 2
input_price = "1.00"
output_price = "2.00"
context_length = 8192
max_output = 1024

[[models.deployments]]
provider = "alt"
upstream_id = "pool-ok-2"
priority = 1

[[models]]
id = "pool-tpm"
provider = "fake"
upstream_id = "pool-ok"
tpm = 10
input_price = "1.00"
output_price = "2.00"
context_length = 8192
max_output = 1024

[[models.deployments]]
provider = "alt"
upstream_id = "pool-ok-2"
priority = 1

[[models]]
id = "pool-agent"
provider = "fake"
upstream_id = "agent"
input_price = "3.00"
output_price = "15.00"
cached_input_price = "0.30"
context_length = 200000
max_output = 32000

[[models.deployments]]
provider = "alt"
upstream_id = "agent"

[[models]]
id = "pool-dear"
provider = "alt"
upstream_id = "pool-ok-2"
input_price = "5.00"
output_price = "25.00"
context_length = 8192
max_output = 1024

[[models]]
id = "pool-sticky"
provider = "fake"
upstream_id = "pool-ok"
input_price = "1.00"
output_price = "2.00"
context_length = 8192
max_output = 1024
[[models.deployments]]
provider = "fake"
upstream_id = "pool-ok-2"
"""

FAKE_MODEL = """
[[models]]
id = "fake-{name}"
provider = "fake"
upstream_id = "{name}"
family = "Fake"
input_price = "{input_price}"
output_price = "{output_price}"
context_length = {context_length}
max_output = {max_output}
{extra}
"""
DEFAULTS = {
    "input_price": "1.00",
    "output_price": "2.00",
    "context_length": 8192,
    "max_output": 1024,
    "extra": "",
}
FAKES = {
    "ok": {},
    "fail-500": {},
    "flaky": {},
    "reject-400": {},
    "record": {},
    "exact-cost": {},
    "no-usage": {},
    "die-midstream": {},
    "slow-stream": {},
    "rate-limited": {},
    "overloaded": {},
    "keepalive": {},
    "broken-before-first": {},
    "stream-error": {},
    "no-usage-tools": {},
    "no-usage-reasoning": {},
    # Nothing comes back (zero completion insurance); each with a price per request.
    "empty": {"extra": 'request_price = "0.001"'},
    "empty-billed": {"extra": 'request_price = "0.001"'},
    "empty-stream-error": {"extra": 'request_price = "0.001"'},
    "scripted": {},  # answers what the test put in fake_upstream.scripted
    # A scripted coding agent (Claude Code and Codex end-to-end tests).
    "agent": {
        "context_length": 200000,
        "max_output": 32000,
        "input_price": "3.00",
        "output_price": "15.00",
        "extra": 'cached_input_price = "0.30"',
    },
    # A reasoning model: rejects max_tokens (o1/o3-style) and bills reasoning tokens.
    "reasoning": {"extra": 'max_tokens_param = "max_completion_tokens"'},
    # A model with a 4,096-token output limit, recording what it is sent.
    "small": {"max_output": 4096, "context_length": 32768},
    # A large, dear model: a full output costs 16 credits (16,384 tokens at $10 per 1M).
    "large": {
        "input_price": "2.50",
        "output_price": "10.00",
        "context_length": 128000,
        "max_output": 16384,
    },
    # Bills whatever the test put in fake_upstream.billed (a provider's own count).
    "bills": {
        "input_price": "2.50",
        "output_price": "10.00",
        "context_length": 128000,
        "max_output": 4096,
    },
    # Prompt caching at Anthropic-like prices: reads at a tenth, writes at 1.25×.
    "cached": {
        "input_price": "3.00",
        "output_price": "15.00",
        "extra": 'cached_input_price = "0.30"\ncache_write_price = "3.75"\n'
        'request_price = "0.0001"',
    },
}


@pytest.fixture
def api(live_api, transactional_db, tmp_path, upstream_url):
    """The live server with the test catalog loaded; waits for background settlements to finish
    before the test's data is flushed."""
    catalog = tmp_path / "catalog.toml"
    fakes = "".join(
        FAKE_MODEL.format(name=name, **{**DEFAULTS, **extra}) for name, extra in FAKES.items()
    )
    catalog.write_text(CATALOG.format(upstream=upstream_url, fakes=fakes))
    call_command("sync_catalog", "--file", str(catalog), stdout=open(os.devnull, "w"))  # noqa: SIM115
    fake_upstream.attempts.clear()
    fake_upstream.received.clear()
    fake_upstream.headers_seen.clear()
    fake_upstream.billed.clear()
    fake_upstream.scripted.clear()
    yield live_api
    drain(live_api)


def drain(server, timeout=15.0, quiet=0.05):
    """Wait until the gateway has had no background work (settlements, last-used writes) for
    ``quiet`` seconds: a stream's settlement starts only after its last bytes reached the
    client, so an empty set at one instant can be a moment too early."""
    deadline = time.monotonic() + timeout
    quiet_since = None
    while True:
        now = time.monotonic()
        if server.gateway.pending:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= quiet:
            return
        if now > deadline:
            raise AssertionError("background settlements did not finish")
        time.sleep(0.01)


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.fixture
def customer(api):
    """A user with 100 credits and a key; returns (user, account, secret)."""
    user = UserFactory(verified=True)
    credits.credits_grant(
        user_id=user.pk, amount=100 * MICRO, kind="topup", reference=f"t:{user.pk}"
    )
    _, secret = make_key(user, name="sdk")
    return user, user.credit_account, secret


@pytest.fixture
def client_for(api):
    from openai import OpenAI

    def make(secret, prefix="/api/v1", **kwargs):
        kwargs.setdefault("max_retries", 0)
        return OpenAI(api_key=secret, base_url=f"{api.url}{prefix}", **kwargs)

    return make


@pytest.fixture
def money_path(request, api, monkeypatch):
    """ "pg": the gateway's PostgreSQL fast path; "orm": the services through worker threads (the
    path the embedded SQLite default takes)."""
    if request.param == "orm":
        monkeypatch.setattr(api.gateway, "pg", None)
    else:
        assert api.gateway.pg is not None
    return request.param
