import json

import pytest
from django.core.cache import cache

from apps.core.money import MICRO
from apps.credits import services

from .billing import stripe_standin
from .billing.webhooks import WEBHOOK_SECRET, sign
from .factories import PASSWORD, AccountFactory, UserFactory
from .servers import ServerThread


@pytest.fixture(autouse=True)
def _clean_cache():
    """allauth's rate limits and every other cache entry start empty in each test."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def owner(db):
    return UserFactory(email="owner@example.com", verified=True)


@pytest.fixture
def outsider(db):
    return UserFactory(email="outsider@example.com", verified=True)


@pytest.fixture
def funded_account(db):
    """An account with exactly 100 credits, granted through the ledger."""

    def make(credits=100, **user_kwargs):
        account = AccountFactory(user__verified=True, **user_kwargs)
        services.credits_grant(
            user_id=account.user_id,
            amount=credits * MICRO,
            kind="adjustment",
            reference=f"test-fund:{account.pk}",
        )
        account.refresh_from_db()
        return account

    return make


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture(scope="session")
def standin_url():
    with ServerThread(stripe_standin.app) as server:
        yield server.url


@pytest.fixture
def stripe_on(settings, standin_url):
    settings.STRIPE_SECRET_KEY = "sk_test_standin"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = standin_url
    stripe_standin.reset()
    return standin_url


@pytest.fixture
def deliver(client):
    """POST an event to the webhook, signed like Stripe signs it."""

    def post(payload: dict, signature: str | None = "sign", body: bytes | None = None):
        body = body if body is not None else json.dumps(payload).encode()
        headers = {}
        if signature == "sign":
            headers["HTTP_STRIPE_SIGNATURE"] = sign(body)
        elif signature is not None:
            headers["HTTP_STRIPE_SIGNATURE"] = signature
        return client.generic(
            "POST", "/billing/stripe/webhook/", body, content_type="application/json", **headers
        )

    return post


def pytest_sessionfinish(session, exitstatus):
    """The run's own journal directory goes with it (a later run never finds its files)."""
    import shutil

    from django.conf import settings

    if getattr(settings, "OWN_JOURNAL_DIR", False) and settings.GATEWAY_JOURNAL_DIR:
        shutil.rmtree(settings.GATEWAY_JOURNAL_DIR, ignore_errors=True)
