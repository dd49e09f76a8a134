"""Price updates with guard rails: sync_catalog (and the admin) show what changes, refuse a price
below an upstream cost or moved by more than CATALOG_PRICE_FACTOR unless forced, and keep every
applied change in the price history that the model page shows."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.catalog.models import Deployment, Model, PriceChange
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CATALOG = """
[providers.p]
base_url = "https://p.example/v1"
api_key_env = "P_KEY"

[[models]]
id = "m"
provider = "p"
input_price = "{input}"
output_price = "{output}"
context_length = 1000
max_output = 100
upstream_cost = {{ input = "2.00", output = "8.00" }}
"""


def write(tmp_path, input="3.00", output="15.00"):
    path = tmp_path / "catalog.toml"
    path.write_text(CATALOG.format(input=input, output=output))
    return path


def sync(path, *flags):
    out = io.StringIO()
    call_command("sync_catalog", "--file", str(path), *flags, stdout=out)
    return out.getvalue()


def test_upstream_costs_are_loaded_per_deployment(tmp_path):
    sync(write(tmp_path))
    deployment = Deployment.objects.get(model__public_id="m")
    assert (deployment.cost_input, deployment.cost_output) == (200_000_000, 800_000_000)
    assert deployment.cost_cached_input is None
    assert not PriceChange.objects.exists()  # a new model has no history yet


def test_a_hundredfold_price_drop_is_refused_without_force_and_kept_in_the_history_with_it(
    tmp_path,
):
    sync(write(tmp_path))
    typo = write(tmp_path, output="0.15")
    with pytest.raises(CommandError) as exc:
        sync(typo)
    message = str(exc.value)
    assert "m output_price: $15 → $0.15" in message and "moves ×0.01" in message
    assert "below the upstream cost ($8) of p:P_KEY:m" in message
    assert "Nothing was written" in message
    assert Model.objects.get(public_id="m").output_price == 1_500_000_000
    dry = sync(typo, "--dry-run")
    assert "REFUSED" in dry and "nothing was written" in dry
    assert Model.objects.get(public_id="m").output_price == 1_500_000_000
    forced = sync(typo, "--force")
    assert "(forced)" in forced
    assert Model.objects.get(public_id="m").output_price == 15_000_000
    change = PriceChange.objects.get()
    assert (change.field, change.old, change.new, change.forced) == (
        "output_price", 1_500_000_000, 15_000_000, True,
    )  # fmt: skip
    assert "below the upstream cost" in change.reasons and change.changed_by == "sync_catalog"


def test_a_modest_change_passes_and_is_recorded(tmp_path):
    sync(write(tmp_path))
    out = sync(write(tmp_path, input="4.00"))
    assert "m input_price: $3 → $4" in out and "REFUSED" not in out
    change = PriceChange.objects.get()
    assert (change.old, change.new, change.forced) == (300_000_000, 400_000_000, False)


def test_a_price_edited_in_the_admin_passes_the_same_guard_rails(tmp_path, client):
    sync(write(tmp_path))
    model = Model.objects.get(public_id="m")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = f"/admin/catalog/model/{model.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(
        {
            "provider": model.provider_id,
            "deployments-TOTAL_FORMS": "1",
            "deployments-INITIAL_FORMS": "1",
            "deployments-MIN_NUM_FORMS": "0",
            "deployments-MAX_NUM_FORMS": "1000",
            "deployments-0-id": model.deployments.get().pk,
            "deployments-0-model": model.pk,
            "deployments-0-priority": "0",
            "deployments-0-weight": "1",
            "deployments-0-enabled": "on",
            "enabled": "on",
            "output_price": "100000",  # a typo: a 15,000th
        }
    )
    refused = client.post(url, data)
    assert refused.status_code == 200
    assert "Refused by the price guard rails" in refused.content.decode()
    model.refresh_from_db()
    assert model.output_price == 1_500_000_000
    accepted = client.post(url, {**data, "force_prices": "on"})
    assert accepted.status_code == 302
    model.refresh_from_db()
    assert model.output_price == 100_000
    change = PriceChange.objects.get()
    assert change.forced and change.changed_by.startswith("admin: ")


def test_the_model_page_says_when_its_price_changed(tmp_path, client, settings, monkeypatch):
    monkeypatch.setenv("P_KEY", "k")
    sync(write(tmp_path))
    assert "Price changed on" not in client.get("/models/m/").content.decode()
    sync(write(tmp_path, input="4.00"))
    page = client.get("/models/m/").content.decode()
    assert "Price changed on" in page


def test_the_admin_action_shows_the_diff_first_and_applies_only_when_confirmed(
    tmp_path, client, settings
):
    sync(write(tmp_path))
    settings.OPENCODEX_CATALOG = str(write(tmp_path, input="4.00", output="0.15"))
    model = Model.objects.get(public_id="m")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = "/admin/catalog/model/"
    action = {"action": "sync_from_file", "_selected_action": [model.pk]}
    preview = client.post(url, action)
    page = preview.content.decode()
    assert preview.status_code == 200 and "Nothing is written until you apply" in page
    assert "m input_price: $3 → $4" in page
    assert "m output_price: $15 → $0.15  REFUSED: moves ×0.01" in page
    assert 'name="force"' in page
    model.refresh_from_db()
    assert (model.input_price, model.output_price) == (300_000_000, 1_500_000_000)
    assert not PriceChange.objects.exists()

    refused = client.post(url, {**action, "apply": "1"}, follow=True)
    assert "Nothing was written" in refused.content.decode()
    model.refresh_from_db()
    assert model.output_price == 1_500_000_000 and not PriceChange.objects.exists()

    forced = client.post(url, {**action, "apply": "1", "force": "1"}, follow=True)
    assert "(forced)" in forced.content.decode()
    model.refresh_from_db()
    assert (model.input_price, model.output_price) == (400_000_000, 15_000_000)
    changes = {c.field: c for c in PriceChange.objects.all()}
    assert not changes["input_price"].forced and changes["output_price"].forced
    assert changes["output_price"].changed_by.startswith("admin: ")


def test_the_admin_action_applies_a_modest_change_after_the_preview(tmp_path, client, settings):
    sync(write(tmp_path))
    settings.OPENCODEX_CATALOG = str(write(tmp_path, input="4.00"))
    model = Model.objects.get(public_id="m")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    action = {"action": "sync_from_file", "_selected_action": [model.pk]}
    page = client.post("/admin/catalog/model/", action).content.decode()
    assert "m input_price: $3 → $4" in page and 'name="force"' not in page
    done = client.post("/admin/catalog/model/", {**action, "apply": "1"}, follow=True)
    assert "Synced: 0 created, 1 updated" in done.content.decode()
    assert PriceChange.objects.get().new == 400_000_000
