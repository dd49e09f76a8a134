import pytest
from django.core.cache import cache

from apps.core.money import MICRO
from apps.credits import services

from .factories import PASSWORD, AccountFactory, UserFactory


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
