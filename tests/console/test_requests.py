"""A request's own page, reached from the request log or by its id: only its owner sees it."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.keys.factories import make_key
from tests.usage.factories import record

pytestmark = pytest.mark.django_db
LOG = reverse("usage:requests")
FIND = reverse("console:request_search")


def detail(request_id):
    return reverse("console:request_detail", args=[request_id])


@pytest.fixture
def request_of_owner(owner):
    key, _ = make_key(owner, name="ci bot")
    return record(
        owner,
        key=key,
        at=timezone.now() - timedelta(minutes=5),
        model="demo-chat",
        protocol="messages",
        prompt_tokens=1200,
        cached_tokens=800,
        completion_tokens=345,
        reasoning_tokens=120,
        cost=1_234_500,
        latency_ms=2345,
        ttft_ms=456,
        stream=True,
    )


def test_the_owner_sees_every_field(owner_client, request_of_owner):
    r = request_of_owner
    response = owner_client.get(detail(r.request_id))
    assert response.status_code == 200
    body = response.content.decode()
    for text in (
        r.request_id,
        "ci bot",
        r.api_key.masked,
        "demo-chat",
        "Anthropic Messages",
        'data-testid="prompt-tokens">1,200<',
        'data-testid="cached-tokens">800<',
        'data-testid="completion-tokens">345<',
        'data-testid="reasoning-tokens">120<',
        'data-testid="cost">1.2345 credits<',
        'data-testid="latency">2,345 ms<',
        'data-testid="ttft">456 ms<',
        reverse("keys:detail", args=[r.api_key.pk]),
    ):
        assert text in body, text


def test_a_failed_request_shows_its_status_and_error(owner_client, owner):
    r = record(
        owner, at=timezone.now(), model="gpt-5", status=404, error_code="model_not_found", cost=0
    )
    body = owner_client.get(detail(r.request_id)).content.decode()
    assert 'data-testid="status">404<' in body
    assert 'data-testid="error-code">model_not_found<' in body
    assert "/models/gpt-5/" not in body  # not a model of the catalog: no link to a 404
    assert 'data-testid="ttft">—<' in body


def test_nobody_else_sees_it(client, outsider, request_of_owner):
    url = detail(request_of_owner.request_id)
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and reverse("account_login") in anonymous["Location"]
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    assert client.get(detail("req_nothing_like_it")).status_code == 404


def test_log_rows_link_to_their_request(owner_client, request_of_owner):
    body = owner_client.get(LOG).content.decode()
    assert f'href="{detail(request_of_owner.request_id)}"' in body
    assert f'action="{FIND}"' in body


def test_searching_by_id_opens_the_request(owner_client, request_of_owner):
    rid = request_of_owner.request_id
    response = owner_client.get(FIND, {"id": f"  {rid} "})
    assert response.status_code == 302 and response["Location"] == detail(rid)


def test_searching_for_an_unknown_or_someone_elses_id_says_so(client, outsider, request_of_owner):
    client.force_login(outsider)
    response = client.get(FIND, {"id": request_of_owner.request_id}, follow=True)
    assert response.redirect_chain[-1][0] == f"{LOG}?id={request_of_owner.request_id}"
    assert "No request of yours has the id" in response.content.decode()
    # What was typed stays in the search box, to correct it.
    assert f'value="{request_of_owner.request_id}"' in response.content.decode()
    assert client.get(FIND, {"id": ""})["Location"] == LOG


def test_the_request_page_splits_the_cost_by_kind_of_token(client, owner):
    from django.core.management import call_command

    from apps.catalog.pricing import tokens_cost
    from apps.catalog.selectors import catalog_routes

    call_command("sync_catalog", stdout=open("/dev/null", "w"))  # noqa: SIM115
    route = catalog_routes()["deepseek-chat"]
    parts = {
        "input": tokens_cost(600, route.input_price),
        "cached": tokens_cost(400, route.cached_price),
        "output": tokens_cost(300, route.output_price),
        "reasoning": tokens_cost(200, route.output_price),
    }
    r = record(
        owner,
        at=timezone.now() - timedelta(minutes=1),
        model="deepseek-chat",
        prompt_tokens=1000,
        cached_tokens=400,
        completion_tokens=500,
        reasoning_tokens=200,
        cost=sum(parts.values()),
    )
    client.force_login(owner)
    response = client.get(detail(r.request_id))
    split = response.context["split"]
    assert {k: split[k] for k in parts} == parts and not split["approximate"]
    body = response.content.decode()
    assert 'data-testid="cost-split"' in body and 'data-part="reasoning"' in body
    assert 'data-copy-target="request-id-value"' in body


def test_cache_writes_have_their_part_on_the_request_page_and_in_the_log(client, owner):
    """Issue #24, 14: a request that wrote to the provider's prompt cache, on a model with a
    cache-write price: the split has the cache writes' part, what the pricing charges for them,
    on the request's page and on its row of the log."""
    from django.core.management import call_command

    from apps.catalog.pricing import Usage, tokens_cost, usage_cost
    from apps.catalog.selectors import catalog_routes
    from apps.core.templatetags.formats import credits

    call_command("sync_catalog", stdout=open("/dev/null", "w"))  # noqa: SIM115
    route = catalog_routes()["claude-3-5-sonnet"]
    assert route.write_price and route.write_price != route.input_price
    usage = Usage(prompt=3000, completion=400, cached=1000, cache_write=1500)
    written = tokens_cost(1500, route.write_price)
    assert written > 0
    r = record(
        owner,
        at=timezone.now() - timedelta(minutes=1),
        model="claude-3-5-sonnet",
        protocol="messages",
        prompt_tokens=3000,
        cached_tokens=1000,
        cache_write_tokens=1500,
        completion_tokens=400,
        cost=usage_cost(route, usage),  # what the gateway charged
    )
    client.force_login(owner)
    response = client.get(detail(r.request_id))
    split = response.context["split"]
    assert split["cache_write"] == written and not split["approximate"]
    assert split["input"] == tokens_cost(500, route.input_price)  # 3,000 - 1,000 - 1,500
    assert (
        sum(split[k] for k in ("input", "cached", "cache_write", "output", "reasoning"))
        + (split["request"])
        == r.cost
    )
    body = response.content.decode()
    assert f'<dd data-part="cache_write">{credits(written)}</dd>' in body
    assert "of which written to the cache" in body

    log = client.get(LOG).content.decode()
    row = log.split(f'data-request="{r.request_id}"')[1].split("</tr>")[0]
    assert f"<span>cache write {credits(written)}</span>" in row
