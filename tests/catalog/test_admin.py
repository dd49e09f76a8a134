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
