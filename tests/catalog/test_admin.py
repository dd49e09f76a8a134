"""The admin cannot point a provider's secret or traffic elsewhere."""

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command

from apps.catalog.models import Provider
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def form_data(provider, **changes):
    data = {
        "slug": provider.slug,
        "name": provider.name,
        "base_url": provider.base_url,
        "api_key_env": provider.api_key_env,
        "enabled": "on",
        "protocols": '["messages"]',
    }
    return {**data, **changes}


@pytest.fixture
def provider():
    call_command("sync_catalog", stdout=open("/dev/null", "w"))  # noqa: SIM115
    return Provider.objects.get(slug="anthropic")


def test_staff_who_may_edit_providers_cannot_change_the_url_or_the_secret(client, provider):
    editor = UserFactory(is_staff=True)
    editor.user_permissions.add(
        *Permission.objects.filter(codename__in=["change_provider", "view_provider"])
    )
    client.force_login(editor)
    url = f"/admin/catalog/provider/{provider.pk}/change/"
    evil = form_data(
        provider,
        base_url="https://evil.example/v1",
        api_key_env="STRIPE_SECRET_KEY",
        name="Renamed",
    )
    assert client.post(url, evil).status_code == 302
    provider.refresh_from_db()
    assert provider.name == "Renamed"  # what they may change
    assert (provider.base_url, provider.api_key_env) == (
        "https://api.anthropic.com/v1",
        "ANTHROPIC_API_KEY",
    )


def test_superusers_may_only_pick_a_key_variable_the_catalog_declares(client, provider):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = f"/admin/catalog/provider/{provider.pk}/change/"
    response = client.post(url, form_data(provider, api_key_env="STRIPE_SECRET_KEY"))
    assert (
        response.status_code == 200
        and "Only the key variables the catalog file declares" in response.content.decode()
    )
    assert client.post(url, form_data(provider, api_key_env="OPENAI_API_KEY")).status_code == 302
    provider.refresh_from_db()
    assert provider.api_key_env == "OPENAI_API_KEY"


def test_the_admin_lists_the_pools_with_what_is_cooling_down_and_staff_can_disable_one(
    client, provider, settings
):
    """sync_catalog makes a deployment of every model's provider key; the admin shows each with
    its cooldown as the gateway set it in Redis, and unticking one takes it out of its pool."""
    import redis

    from apps.catalog.models import Deployment
    from apps.catalog.selectors import COOL_PREFIX, catalog_routes

    deployment = Deployment.objects.select_related("provider").filter(provider=provider).first()
    assert deployment is not None and deployment.label.startswith("anthropic:")
    server = redis.Redis.from_url(settings.REDIS_URL)
    server.set(COOL_PREFIX + deployment.label, "1", px=42_000)
    try:
        admin = UserFactory(is_staff=True, is_superuser=True)
        client.force_login(admin)
        page = client.get("/admin/catalog/deployment/")
        assert page.status_code == 200
        assert deployment.upstream_id in page.content.decode()
        assert "42 s" in page.content.decode() or "41 s" in page.content.decode()
    finally:
        server.delete(COOL_PREFIX + deployment.label)
    Deployment.objects.filter(pk=deployment.pk).update(enabled=False)
    settings.DEMO_UPSTREAM_ENABLED = False
    import os

    os.environ[provider.api_key_env or "ANTHROPIC_API_KEY"] = "sk-test"
    try:
        routes = catalog_routes()
        pool = routes.get(deployment.model.public_id)
        assert pool is None or deployment.label not in [t.name for t in pool.deployments]
    finally:
        os.environ.pop(provider.api_key_env or "ANTHROPIC_API_KEY", None)


def test_staff_can_test_a_deployment_now(client, provider):
    from apps.catalog.models import Deployment

    deployment = Deployment.objects.filter(provider=provider).first()
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    response = client.post(
        "/admin/catalog/deployment/",
        {"action": "test_now", "_selected_action": [deployment.pk], "index": 0},
        follow=True,
    )
    assert response.status_code == 200
    # (the admin capitalises its messages' first letter)
    expected = f"{deployment.label}: not configured (no key)".lower()
    assert expected in response.content.decode().lower()
