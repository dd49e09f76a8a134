"""The request log, the model browser and a key's page in Chromium, on a phone (390 px) and a
laptop (1,280 px): nothing scrolls the page sideways outside a scroll container, the columns
that matter (model, status, cost) are on screen, stacked cards keep values beside their labels,
and the filters work through htmx with the URL following them."""

import pytest

from apps.keys.models import ApiKey
from tests.e2e.test_layout import LAPTOP, PHONE, busy_user, log_in, overflow  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
VIEWPORTS = pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["390px", "1280px"])

# Every cell of a stacked card: its content starts right of its label's column (the label is
# the cell's ::before, floated into the padding), never under it.
VALUES_BESIDE_LABELS = """
table => [...table.querySelectorAll("tbody tr:first-child td[data-label]")].map(td => {
  const box = td.getBoundingClientRect();
  const start = box.left + parseFloat(getComputedStyle(td).paddingLeft) - 1;
  const range = document.createRange();
  range.selectNodeContents(td);
  const lines = [...range.getClientRects()].filter(r => r.width > 0);
  const ok = lines.every(r => r.left >= start && r.right <= box.right + 1);
  return {label: td.dataset.label, ok: ok};
}).filter(cell => !cell.ok).map(cell => cell.label)
"""


def on_screen(locator, viewport) -> bool:
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    return locator.is_visible() and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]


@VIEWPORTS
def test_the_request_log_filters_and_shows_what_matters(page, busy_user, viewport):  # noqa: F811
    page.set_viewport_size(viewport)
    log_in(page, busy_user.email)
    page.goto("/usage/requests/?range=30d")
    assert overflow(page) <= 0
    row = page.locator("table.request-log tbody tr").first
    for cell in ("td[data-label=Model]", "td[data-label=Status] .badge", "[data-testid=cost]"):
        assert on_screen(row.locator(cell), viewport), cell
    if viewport == PHONE:
        table = page.locator("table.request-log").element_handle()
        assert page.evaluate(VALUES_BESIDE_LABELS, table) == []
    assert row.locator("[data-testid=copy-id]").is_visible()
    # A filter through htmx: the rows change, the URL follows (a link to share), no reload.
    page.select_option("#id_status", "error")
    page.wait_for_url("**status=error**")
    page.wait_for_function(
        "() => [...document.querySelectorAll('table.request-log tbody tr[data-request]')]"
        ".every(tr => tr.querySelector('.badge').textContent.trim() >= '400')"
    )
    assert page.locator("table.request-log tbody tr[data-request]").count() == 2
    assert "status=error" in page.locator("[data-testid=log-csv]").get_attribute("href")
    assert overflow(page) <= 0
    # The id search keeps what was typed when nothing has that id.
    page.fill("#request-id-search", "req_nothing_like_this")
    page.locator("[data-testid=request-search] button").click()
    page.wait_for_url("**/usage/requests/?id=req_nothing_like_this")
    assert page.input_value("#request-id-search") == "req_nothing_like_this"


@VIEWPORTS
def test_the_model_browser_searches_and_its_cards_wrap(page, busy_user, viewport):  # noqa: F811
    page.set_viewport_size(viewport)
    page.goto("/models/")
    assert overflow(page) <= 0
    rows = page.locator("table.models-table tbody tr")
    assert rows.count() == 14
    if viewport == PHONE:
        table = page.locator("table.models-table").element_handle()
        assert page.evaluate(VALUES_BESIDE_LABELS, table) == []
    first = rows.first
    for label in ("Model", "Input / 1M", "Output / 1M"):
        assert on_screen(first.locator(f"td[data-label='{label}']"), viewport), label
    assert first.locator("[data-testid=model-summary]").is_visible()
    page.fill("#id_q", "gemini")
    page.wait_for_url("**q=gemini**")
    page.wait_for_function(
        "() => document.querySelectorAll('table.models-table tbody tr').length === 3"
    )
    page.select_option("#id_sort", "-context")
    page.wait_for_url("**sort=-context**")
    page.wait_for_function(
        "() => document.querySelector('table.models-table tbody tr').dataset.model"
        " === 'gemini-1.5-pro'"
    )
    assert overflow(page) <= 0


@VIEWPORTS
@pytest.mark.parametrize("scope", ["key", "account"])
def test_a_keys_page_and_the_dashboard_chart_spend_and_list_requests(
    page,
    busy_user,  # noqa: F811
    viewport,
    scope,
):
    """Issue #24, 4 and 15: the spend chart is drawn inside the screen and the latest requests
    (on the dashboard with their keys) link to their pages."""
    key = ApiKey.objects.get(user=busy_user, name="laptop")
    page.set_viewport_size(viewport)
    log_in(page, busy_user.email)
    page.goto(f"/keys/{key.pk}/" if scope == "key" else "/dashboard/")
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.querySelector('canvas[data-chart=cost]'))"
    )
    canvas = page.locator(f"[data-testid={scope}-insight] canvas").bounding_box()
    assert canvas["height"] >= 200 and canvas["width"] <= viewport["width"]
    recent = page.locator(f"[data-testid={scope}-recent] tbody tr")
    assert recent.count() == 10
    if scope == "account":
        assert "laptop" in recent.first.inner_text()
    link = recent.first.get_by_role("link")
    assert on_screen(link, viewport)
    assert overflow(page) <= 0
    link.click()
    page.wait_for_url("**/usage/requests/req_layout_**")


# The wide tables of other pages at 390 px: each row a card whose values sit beside their labels
# and inside the screen, so the amount, the status or the cost is never cut off at the edge.
PHONE_TABLES = [
    ("/dashboard/", "table.activity-table", "Amount"),
    ("/usage/?range=30d", "table.totals-table", "Credits"),
    ("/models/gpt-4o/", "table.traffic-table", "Median latency"),
    ("/docs/chat-completions/", ".docs-content table", None),
    ("/keys/", "table.keys-table", "Status"),
]


def test_wide_tables_become_cards_on_a_phone(page, busy_user):  # noqa: F811
    from apps.credits.services import credits_grant

    credits_grant(
        user_id=busy_user.pk,
        amount=5_000_000,
        kind="topup",
        reference="layout-topup",
        memo="a rather long note about this top-up",
    )
    page.set_viewport_size(PHONE)
    log_in(page, busy_user.email)
    for url, selector, priority in PHONE_TABLES:
        page.goto(url)
        table = page.locator(selector).first
        table.wait_for()
        if selector.startswith(".docs"):  # labelled by docs.js from the table's header
            page.wait_for_function("() => document.querySelector('.docs-content td[data-label]')")
        assert page.evaluate(VALUES_BESIDE_LABELS, table.element_handle()) == [], url
        cells = table.locator("tbody tr").first.locator("td[data-label]")
        for i in range(cells.count()):
            assert on_screen(cells.nth(i), PHONE), (url, cells.nth(i).get_attribute("data-label"))
        if priority:
            assert table.locator(f"tbody tr td[data-label='{priority}']").first.is_visible()
        assert overflow(page) <= 0, url
