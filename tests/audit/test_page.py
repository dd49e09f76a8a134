"""The audit log page and its CSV: the account's own events only, newest first, a page at a
time, filtered by action and dates; another user gets nothing of it, whatever they guess."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.audit import services as audit
from apps.audit.models import AuditEvent
from apps.core.money import MICRO

pytestmark = pytest.mark.django_db
LOG = reverse("audit:log")
EXPORT = reverse("audit:export")


def area(response) -> str:
    """The events part of the page (the filter's choices name every action)."""
    return response.content.decode().split('id="audit-area"', 1)[1]


def at(owner, action, *, days=0, **fields) -> AuditEvent:
    made = AuditEvent(
        account_id=owner.pk,
        action=action,
        created_at=timezone.now() - timedelta(days=days),
        **fields,
    )
    made.save(force_insert=True)
    return made


@pytest.fixture
def history(owner, outsider):
    at(owner, "key.created", days=3, target="sk-live-AbCd…wxyz", actor_label=owner.email)
    at(
        owner,
        "budget.changed",
        days=1,
        actor=owner,
        actor_label=owner.email,
        ip="203.0.113.5",
        before={"monthly_budget": None},
        after={"monthly_budget": 25 * MICRO},
    )
    at(owner, "refund.issued", actor_label="Stripe", after={"credits": -3 * MICRO})
    at(outsider, "key.revoked", target="sk-live-Zzzz…OUTS", actor_label=outsider.email)


def test_anonymous_is_sent_to_login(client):
    for url in (LOG, EXPORT):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response.url


def test_the_page_lists_the_accounts_events_newest_first_in_words(owner_client, history):
    body = area(owner_client.get(LOG))
    assert body.index("Refund taken back") < body.index("Monthly budget changed")
    assert body.index("Monthly budget changed") < body.index("API key created")
    assert "203.0.113.5" in body and "owner@example.com" in body and "Stripe" in body
    assert "<del>—</del> → <ins>25.00</ins>" in body
    assert "sk-live-AbCd…wxyz" in body
    assert "OUTS" not in body and "outsider@example.com" not in body
    assert "Events: 3" in body


def test_the_account_menu_links_to_it(owner_client):
    assert f'href="{LOG}"' in owner_client.get(reverse("dashboard")).content.decode()


def test_another_user_sees_nothing_of_it(client, outsider, history):
    client.force_login(outsider)
    body = client.get(LOG).content.decode()
    assert "owner@example.com" not in body and "AbCd" not in body and "Events: 1" in body
    rows = list(csv.reader(io.StringIO(client.get(EXPORT).getvalue().decode("utf-8-sig"))))
    assert len(rows) == 2 and rows[1][4] == "key.revoked"
    # Guessing ids, accounts or other parameters changes nothing.
    for query in ("?account=1", f"?account_id={outsider.pk - 1}", "?page=2", "?id=1"):
        body = client.get(LOG + query).content.decode()
        assert "owner@example.com" not in body and "AbCd" not in body


def test_filters_by_action_and_dates(owner_client, history):
    body = area(owner_client.get(LOG, {"action": "budget.changed"}))
    assert "Monthly budget changed" in body and "Refund taken back" not in body
    today = timezone.localdate()
    body = area(owner_client.get(LOG, {"start": str(today - timedelta(days=2))}))
    assert "API key created" not in body and "Refund taken back" in body
    body = area(owner_client.get(LOG, {"end": str(today - timedelta(days=2))}))
    assert "API key created" in body and "Refund taken back" not in body
    bad = owner_client.get(LOG, {"start": str(today), "end": str(today - timedelta(days=1))})
    assert "The start date is after the end date." in bad.content.decode()


def test_the_htmx_request_gets_the_fragment(owner_client, history):
    body = owner_client.get(LOG, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in body and "Refund taken back" in body


def test_pages_of_events_in_a_fixed_number_of_queries(owner_client, owner, settings):
    settings.AUDIT_PAGE_SIZE = 5
    for n in range(12):
        at(owner, "settings.changed", days=n, after={"time_zone": f"Zone/{n:02}"})
    owner_client.get(LOG)  # warm the session and the user
    with CaptureQueriesContext(connection) as first:
        body = owner_client.get(LOG).content.decode()
    assert "Zone/00" in body and "Zone/05" not in body and "Page 1 of 3" in body
    with CaptureQueriesContext(connection) as third:
        body = owner_client.get(LOG, {"page": "3"}).content.decode()
    assert "Zone/10" in body and "Zone/11" in body and "Zone/09" not in body
    assert len(first) == len(third)
    assert 'rel="prev"' in body and "page=2" in body


def test_the_csv_is_the_filtered_events_with_a_bom(owner_client, history, owner):
    at(owner, "settings.changed", after={"profile_name": "=HYPERLINK(1)"})
    response = owner_client.get(EXPORT, {"action": "budget.changed"})
    assert response["Content-Type"].startswith("text/csv")
    assert "opencodex-audit-log.csv" in response["Content-Disposition"]
    raw = response.getvalue()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["Time (UTC)", "Actor", "IP address", "Action", "Code", "Target", "Changes"]
    assert len(rows) == 2
    assert rows[1][1:] == [
        "owner@example.com",
        "203.0.113.5",
        "Monthly budget changed",
        "budget.changed",
        "",
        "Monthly budget: — → 25.00",
    ]
    everything = owner_client.get(EXPORT).getvalue().decode("utf-8-sig")
    assert "'Profile name" not in everything and "Profile name: =HYPERLINK(1)" in everything
    assert "OUTS" not in everything


def test_the_csv_and_page_in_chinese(owner_client, history):
    body = owner_client.get(LOG, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "审计日志" in body and "每月预算已更改" in body
    raw = owner_client.get(EXPORT, HTTP_ACCEPT_LANGUAGE="zh-hans").getvalue()
    assert "每月预算已更改" in raw.decode("utf-8-sig")


def test_a_recorded_event_is_shown(owner_client, owner):
    audit.record(account_id=owner.pk, actor=owner, action="key.revoked", target="sk-live-x…y")
    assert "API key revoked" in owner_client.get(LOG).content.decode()
