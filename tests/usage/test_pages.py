from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.usage.models import UsageHour
from apps.usage.rollup import rollup_rebuild, rollup_step
from tests.keys.factories import make_key

from .factories import record

pytestmark = pytest.mark.django_db
USAGE = reverse("usage:index")
LOG = reverse("usage:requests")


def now():
    return timezone.now()


def seed(user, key, n=3, model="demo-chat", cost=1_000_000, **kwargs):
    for i in range(n):
        record(user, key=key, model=model, at=now() - timedelta(hours=i + 1), cost=cost, **kwargs)


def test_empty_state_before_the_first_request(owner_client):
    body = owner_client.get(USAGE).content.decode()
    assert 'data-testid="usage-empty"' in body and "Create a key" in body


def sync_catalog():
    call_command("sync_catalog", stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_report_totals_by_model_and_by_key(owner_client, owner):
    sync_catalog()  # gpt-4o only failed here: it is still a model of the catalog
    key, _ = make_key(owner, name="bot")
    other, _ = make_key(owner, name="batch")
    seed(owner, key, 3)
    seed(owner, other, 2, model="gpt-4o", status=502, cost=0)
    rollup_step()
    body = owner_client.get(USAGE + "?range=7d").content.decode()
    assert "usage-chart-data" in body and "3.00" in body
    assert "demo-chat" in body and "gpt-4o" in body
    by_key = owner_client.get(USAGE + "?range=7d&group=key").content.decode()
    assert f"bot ({key.masked})" in by_key and f"batch ({other.masked})" in by_key
    only = owner_client.get(USAGE + f"?range=7d&key={other.pk}").content.decode()
    assert "gpt-4o" in only and "demo-chat</td>" not in only
    partial = owner_client.get(USAGE + "?range=24h&model=gpt-4o", HTTP_HX_REQUEST="true")
    assert "<html" not in partial.content.decode() and "gpt-4o" in partial.content.decode()


def test_chart_data_has_every_bucket_and_the_error_rate(owner_client, owner):
    key, _ = make_key(owner)
    seed(owner, key, 2)
    record(owner, key=key, at=now() - timedelta(hours=1, minutes=1), status=500, cost=0)
    rollup_step()
    chart = owner_client.get(USAGE + "?range=24h").context["chart"]
    assert len(chart["labels"]) in (24, 25)
    assert sum(chart["requests"]) == 3
    assert max(chart["error_rate"]) == 50.0
    assert sum(sum(v) for v in chart["cost"].values()) == 2.0


def test_bad_filters_give_a_clear_message_and_no_one_elses_data(owner_client, owner, outsider):
    theirs, _ = make_key(outsider, name="theirs")
    seed(outsider, theirs, 2, model="secret-model")
    rollup_step()
    for query, message in [
        (f"?key={theirs.pk}", "not one of your keys"),
        ("?model=secret-model", "no usage of that model"),
        ("?range=custom&start=2026-02-10&end=2026-02-01", "must not be after"),
        ("?range=custom&start=2024-01-01&end=2026-01-01", "at most 366 days"),
        ("?range=custom", "both a start and an end"),
        ("?range=forever", "Select a valid choice"),
    ]:
        body = owner_client.get(USAGE + query).content.decode()
        assert message in body, query
        assert "secret-model</td>" not in body and "theirs" not in body


def test_day_buckets_follow_the_users_time_zone(owner_client, owner):
    owner.time_zone = "Asia/Shanghai"
    owner.save()
    key, _ = make_key(owner)
    # 2026-11-01 23:30 UTC is 2026-11-02 07:30 in Shanghai.
    record(owner, key=key, at=datetime(2026, 11, 1, 23, 30, tzinfo=UTC), cost=5_000_000)
    rollup_step()
    chart = owner_client.get(USAGE + "?range=custom&start=2026-11-01&end=2026-11-03").context[
        "chart"
    ]
    assert chart["labels"] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert chart["cost"]["demo-chat"] == [0, 5.0, 0]


def test_time_zone_setting(owner_client, owner):
    owner_client.post(reverse("usage:time_zone"), {"time_zone": "Europe/Berlin"})
    owner.refresh_from_db()
    assert owner.time_zone == "Europe/Berlin"
    owner_client.post(reverse("usage:time_zone"), {"time_zone": "Mars/Olympus"})
    owner.refresh_from_db()
    assert owner.time_zone == "Europe/Berlin"


def test_usage_page_queries_do_not_grow_with_records(owner_client, owner):
    key, _ = make_key(owner)
    seed(owner, key, 2)
    rollup_step()
    owner_client.get(USAGE + "?range=7d&group=key")
    with CaptureQueriesContext(connection) as few:
        owner_client.get(USAGE + "?range=7d&group=key")
    for model in ("a", "b", "c"):
        seed(owner, key, 40, model=model)
    # (One test transaction writes all: the rebuild counts its later records again.)
    rollup_rebuild(since=now() - timedelta(days=10))
    assert UsageHour.objects.count() > 100
    with CaptureQueriesContext(connection) as many:
        owner_client.get(USAGE + "?range=7d&group=key")
    assert len(many) == len(few)


def test_request_log_pages_by_keyset_with_filters(owner_client, owner, outsider):
    key, _ = make_key(owner, name="bot")
    base = now()
    for i in range(120):
        record(owner, key=key, at=base - timedelta(seconds=i), status=502 if i % 10 == 0 else 200)
    record(outsider, at=base, model="secret-model")
    first = owner_client.get(LOG)
    rows = first.context["page"]
    assert len(rows) == 50 and rows[0].created_at >= rows[-1].created_at
    seen = {r.request_id for r in rows}
    query = first.context["next_query"]
    second = owner_client.get(LOG + "?" + query).context
    third = owner_client.get(LOG + "?" + second["next_query"]).context
    assert len(second["page"]) == 50 and len(third["page"]) == 20 and not third["next_query"]
    for page in (second["page"], third["page"]):
        ids = {r.request_id for r in page}
        assert not ids & seen
        seen |= ids
    assert len(seen) == 120
    assert "secret-model" not in first.content.decode()
    errors = owner_client.get(LOG + "?status=error").context["page"]
    assert len(errors) == 12 and all(r.status >= 400 for r in errors)
    assert "page link is broken" in owner_client.get(LOG + "?cursor=nonsense").content.decode()


def test_request_log_queries_do_not_grow_with_the_page(owner_client, owner):
    key, _ = make_key(owner)
    record(owner, key=key, at=now())
    owner_client.get(LOG)
    with CaptureQueriesContext(connection) as one:
        owner_client.get(LOG)
    for i in range(60):
        record(owner, key=key, at=now() - timedelta(seconds=i + 1))
    with CaptureQueriesContext(connection) as full:
        owner_client.get(LOG)
    assert len(full) == len(one)


def test_csv_exports_stream_only_the_users_rows(owner_client, owner, outsider):
    key, _ = make_key(owner, name="bot")
    seed(owner, key, 3)
    seed(outsider, None, 2, model="secret-model")
    rollup_step()
    response = owner_client.get(reverse("usage:export_requests") + "?range=7d")
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    lines = b"".join(response.streaming_content).decode("utf-8-sig").strip().splitlines()
    assert lines[0].startswith("time (UTC),request_id,key,model") and len(lines) == 4
    assert "secret-model" not in "".join(lines) and ",bot,demo-chat," in lines[1]
    hourly = owner_client.get(reverse("usage:export_hours") + "?range=7d")
    rows = b"".join(hourly.streaming_content).decode("utf-8-sig").strip().splitlines()
    assert rows[0].startswith("hour (UTC),key,model") and len(rows) == 4
    assert "secret-model" not in "".join(rows)


def test_pages_need_login(client):
    for url in (USAGE, LOG, reverse("usage:export_requests"), reverse("usage:export_hours")):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response.url


def test_dashboard_shows_todays_spend_and_the_week(owner_client, owner):
    key, _ = make_key(owner)
    midnight = now().replace(hour=0, minute=0, second=0, microsecond=0)
    record(owner, key=key, at=max(now() - timedelta(minutes=5), midnight), cost=2_500_000)
    rollup_step()
    body = owner_client.get(reverse("dashboard")).content.decode()
    assert 'data-testid="spent-today"' in body and "2.50" in body
    assert "<polyline" in body


def test_cache_hits_are_rolled_up_shown_and_exported(owner_client, owner):
    key, _ = make_key(owner)
    seed(owner, key, 2, prompt_tokens=1000, cached_tokens=750, cache_write_tokens=100)
    rollup_step()
    hours = UsageHour.objects.filter(user=owner)
    assert sum(h.cached_tokens for h in hours) == 1500
    assert sum(h.cache_write_tokens for h in hours) == 200
    body = owner_client.get(USAGE + "?range=7d").content.decode()
    assert 'data-testid="cache-share">75%' in body
    export = owner_client.get(reverse("usage:export_requests") + "?range=7d")
    csv = b"".join(export).decode("utf-8-sig")
    header, first = csv.splitlines()[:2]
    assert header.endswith("cached_tokens,cache_write_tokens,reasoning_tokens,protocol,provider")
    assert first.rsplit(",", 1)[0].endswith(",750,100,0,chat")
    hourly = b"".join(owner_client.get(reverse("usage:export_hours") + "?range=7d")).decode()
    assert hourly.splitlines()[0].endswith(",cached_tokens,cache_write_tokens")


def test_the_request_log_shows_each_requests_protocol(owner_client, owner):
    key, _ = make_key(owner)
    for protocol in ("chat", "messages", "responses"):
        record(owner, key=key, at=now() - timedelta(minutes=5), protocol=protocol)
    body = owner_client.get(LOG).content.decode()
    for protocol in ("chat", "messages", "responses"):
        assert f'data-testid="protocol">{protocol}</small>' in body


def test_csv_cells_that_look_like_formulas_are_escaped(owner_client, owner):
    key, _ = make_key(owner, name='=HYPERLINK("http://evil")')
    record(owner, key=key, model="+cmd|' /C calc'!A0", at=now() - timedelta(minutes=5))
    body = b"".join(owner_client.get(reverse("usage:export_requests") + "?range=24h")).decode()
    row = body.splitlines()[1]
    assert "'=HYPERLINK" in row and "'+cmd" in row
    assert ",=" not in row and ",+" not in row


def test_requests_without_a_model_or_with_an_unknown_one_are_grouped_not_listed(
    owner_client, owner
):
    sync_catalog()
    key, _ = make_key(owner, name="bot")
    seed(owner, key, 2, model="gpt-4o")
    seed(owner, key, 2, model="gpt-5", status=404, cost=0)  # a typo: not in the catalog
    seed(owner, key, 1, model="typo-2", status=404, cost=0)
    seed(owner, key, 1, model="", status=400, cost=0)  # no model at all
    rollup_step()
    response = owner_client.get(USAGE + "?range=7d")
    totals = {row["name"]: row for row in response.context["report"]["totals"]}
    assert set(totals) == {"gpt-4o", "other", "(no model)"}
    assert totals["other"]["requests"] == 3 and totals["(no model)"]["requests"] == 1
    chart = response.context["chart"]
    assert list(chart["cost"]) == ["gpt-4o"]  # nothing was spent on the others: no empty series
    body = response.content.decode()
    assert "gpt-5" not in body and "typo-2" not in body
    assert '<option value="gpt-4o"' in body and '<option value=":other"' in body
    assert '<option value=":none"' in body and '<option value="">' in body
    # The groups filter like models do; a typo is not an option of its own.
    other = owner_client.get(USAGE + "?range=7d&model=:other").context["report"]["totals"]
    assert [(r["name"], r["requests"]) for r in other] == [("other", 3)]
    none = owner_client.get(LOG + "?model=:none").context["page"]
    assert [r.model for r in none] == [""]
    assert "no usage of that model" in owner_client.get(USAGE + "?model=gpt-5").content.decode()
    # Time ranges and the CSV name the missing model instead of leaving a blank cell.
    csv = b"".join(owner_client.get(reverse("usage:export_requests")).streaming_content)
    assert ",(no model)," in csv.decode() and ",gpt-5," in csv.decode()


def test_a_model_that_served_requests_keeps_its_name_after_leaving_the_catalog(owner_client, owner):
    key, _ = make_key(owner)
    seed(owner, key, 2, model="retired-model")  # not in any catalog, but it answered
    rollup_step()
    response = owner_client.get(USAGE + "?range=7d")
    assert [r["name"] for r in response.context["report"]["totals"]] == ["retired-model"]
    assert '<option value="retired-model"' in response.content.decode()


def test_time_zone_saved_on_the_account_page_sets_the_usage_days(owner_client, owner):
    response = owner_client.post(
        reverse("account_settings"), {"action": "time_zone", "time_zone": "Asia/Shanghai"}
    )
    assert response.status_code == 302
    key, _ = make_key(owner)
    record(owner, key=key, at=datetime(2026, 11, 1, 23, 30, tzinfo=UTC), cost=5_000_000)
    rollup_step()
    page = owner_client.get(USAGE + "?range=custom&start=2026-11-01&end=2026-11-03")
    assert page.context["chart"]["cost"]["demo-chat"] == [0, 5.0, 0]
    body = page.content.decode()
    assert "Times in Asia/Shanghai" in body
    assert f'href="{reverse("account_settings")}#time-zone"' in body
    assert 'name="time_zone"' not in body  # the form lives on the account page now
