"""The request log as an activity log: a time range, filters by key, model, status and protocol
(as GET links and with htmx), the provider that served, the cost split, and the CSV of exactly
what the filters show."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from apps.usage.rollup import rollup_step
from tests.keys.factories import make_key

from .factories import record

pytestmark = pytest.mark.django_db
LOG = reverse("usage:requests")
CSV = reverse("usage:export_requests")


def ago(**kwargs):
    return timezone.now() - timedelta(**kwargs)


@pytest.fixture
def traffic(owner, outsider):
    """Requests of the owner through two keys, in three protocols, some failed, one old."""
    call_command("sync_catalog", stdout=open("/dev/null", "w"))  # noqa: SIM115
    ci, _ = make_key(owner, name="ci 机器人")
    laptop, _ = make_key(owner, name="laptop")
    rows = {
        "chat": record(owner, key=ci, at=ago(minutes=5), model="deepseek-chat"),
        "messages": record(
            owner,
            key=laptop,
            at=ago(minutes=10),
            model="claude-3-5-sonnet",
            protocol="messages",
            deployment="anthropic:ANTHROPIC_API_KEY:claude-3-5-sonnet-latest",
        ),
        "responses": record(
            owner, key=ci, at=ago(minutes=15), model="gpt-4o", protocol="responses"
        ),
        "429": record(owner, key=laptop, at=ago(minutes=20), status=429, error_code="rate_limited"),
        "502": record(owner, key=ci, at=ago(minutes=25), status=502, error_code="upstream_error"),
        "old": record(owner, key=ci, at=ago(days=3), model="deepseek-chat"),
    }
    record(outsider, at=ago(minutes=1), model="deepseek-chat", protocol="messages")
    rollup_step()  # the model filter offers the models of the rollups
    return {"ci": ci, "laptop": laptop, **rows}


def shown(client, query=""):
    return {r.request_id for r in client.get(LOG + query).context["page"]}


def ids(traffic, *names):
    return {traffic[n].request_id for n in names}


def exported(client, query=""):
    body = b"".join(client.get(CSV + query).streaming_content)
    return body, list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def test_each_filter_narrows_the_rows(owner_client, traffic):
    everything = ids(traffic, "chat", "messages", "responses", "429", "502", "old")
    assert shown(owner_client) == everything  # the default range: the last 7 days
    assert shown(owner_client, "?range=24h") == everything - ids(traffic, "old")
    assert shown(owner_client, f"?key={traffic['laptop'].pk}") == ids(traffic, "messages", "429")
    assert shown(owner_client, "?model=deepseek-chat") == ids(traffic, "chat", "old")
    assert shown(owner_client, "?status=error") == ids(traffic, "429", "502")
    assert shown(owner_client, "?status=429") == ids(traffic, "429")
    assert shown(owner_client, "?status=ok&range=24h") == ids(
        traffic, "chat", "messages", "responses"
    )
    assert shown(owner_client, "?protocol=messages") == ids(traffic, "messages")
    assert shown(owner_client, "?protocol=responses&key=" + str(traffic["ci"].pk)) == ids(
        traffic, "responses"
    )


def test_a_custom_date_range_bounds_the_log(owner_client, traffic):
    day = (timezone.now() - timedelta(days=3)).date()
    query = f"?range=custom&start={day}&end={day}"
    assert shown(owner_client, query) == ids(traffic, "old")
    body = owner_client.get(query and LOG + query).content.decode()
    # The dates show for a custom range only.
    assert "data-custom-range hidden" not in body
    assert "data-custom-range hidden" in owner_client.get(LOG).content.decode()


def test_a_link_with_filters_keeps_them_selected(owner_client, traffic):
    body = owner_client.get(LOG + "?protocol=messages&status=error").content.decode()
    assert '<option value="messages" selected>' in body
    assert '<option value="error" selected>' in body
    assert '<option value="7d" selected>' in body  # the range the rows are from, not the first
    # The CSV link carries the same filters.
    assert f'href="{CSV}?protocol=messages&amp;status=error&amp;range=7d"' in body


def test_bad_filter_values_are_explained_not_ignored_silently(owner_client, traffic):
    body = owner_client.get(LOG + "?protocol=smtp&status=999").content.decode()
    assert 'role="alert"' in body and "not one of the available choices" in body


def test_rows_show_the_provider_that_served_and_the_cost_split(owner_client, traffic):
    body = owner_client.get(LOG).content.decode()
    row = body.split(f'data-request="{traffic["messages"].request_id}"')[1].split("</tr>")[0]
    assert 'data-testid="served-by">anthropic <small class="muted">claude-3-5-sonnet-latest' in row
    assert 'data-testid="cost-split"' in row and "out" in row
    assert f'data-copy-target="rid-{traffic["messages"].pk}"' in row  # the copy button


def test_htmx_filters_swap_the_table_and_more_rows_append(owner_client, traffic):
    response = owner_client.get(
        LOG + "?protocol=messages", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="log-filters"
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="log-table"')
    assert "<html" not in body and traffic["messages"].request_id in body
    more = owner_client.get(LOG, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="log-more")
    assert more.content.decode().lstrip().startswith("<tr")


def test_the_csv_has_a_bom_and_exactly_the_filtered_rows(owner_client, traffic):
    body, rows = exported(owner_client, f"?key={traffic['ci'].pk}&status=ok&range=24h")
    assert body.startswith("\ufeff".encode())  # Excel reads it as UTF-8
    assert {r["request_id"] for r in rows} == ids(traffic, "chat", "responses")
    assert {r["key"] for r in rows} == {"ci 机器人"}
    _, messages = exported(owner_client, "?protocol=messages")
    assert [(r["request_id"], r["provider"]) for r in messages] == [
        (traffic["messages"].request_id, "anthropic")
    ]


def test_the_id_search_keeps_what_was_typed(owner_client, traffic):
    response = owner_client.get(reverse("console:request_search"), {"id": "req_typo"}, follow=True)
    assert 'value="req_typo"' in response.content.decode()


def test_the_back_buttons_history_restore_gets_the_whole_page(owner_client, traffic):
    response = owner_client.get(
        LOG + "?protocol=messages",
        HTTP_HX_REQUEST="true",
        HTTP_HX_HISTORY_RESTORE_REQUEST="true",
    )
    assert "<html" in response.content.decode()
