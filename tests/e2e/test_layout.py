"""The console at the widths people use: nothing scrolls the page sideways, the keys' actions
are reachable, the menu collapses on a phone, charts keep a real height."""

import random
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from apps.keys import services as keys
from apps.usage.models import UsageHour, UsageRecord
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 800, "height": 1000}
LAPTOP = {"width": 1280, "height": 800}
MODELS = [
    "deepseek-chat",
    "gpt-4o",
    "gpt-4o-mini",
    "claude-3-5-sonnet",
    "qwen-plus",
    "gemini-1.5-pro",
    "qwen-max",
    "claude-3-haiku",
]
SIGNED_IN_PAGES = [
    "/dashboard/",
    "/keys/",
    "/usage/?range=30d",
    "/usage/requests/",
    "/billing/",
    "/account/",
    "/accounts/email/",
    "/accounts/2fa/",
    "/docs/models/",
    "/docs/errors/",
]


@pytest.fixture
def busy_user():
    """A user with long key names, a rotating key, and 30 days of requests to 8 models (plus
    a request without a model and one to a model that does not exist)."""
    call_command("sync_catalog", stdout=open("/dev/null", "w"))  # noqa: SIM115
    user = UserFactory(email="a-rather-long-address.for-layout@example.com", verified=True)
    made = [
        keys.api_key_create(user_id=user.pk, name=name, credit_limit=5_000_000_000, rpm_limit=120)[
            0
        ]
        for name in ("ci-pipeline-production-runner", "laptop", "batch jobs", "staging")
    ]
    keys.api_key_rotate(user_id=user.pk, key_id=made[0].pk, grace_seconds=86400)
    rnd = random.Random(13)
    hour = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    hours, records = [], []
    for day in range(30):
        for i, model in enumerate(MODELS):
            prompt, completion = rnd.randint(100, 5000), rnd.randint(50, 2000)
            cost, at = rnd.randint(1000, 900_000), hour - timedelta(days=day)
            # The charts read the hourly rollups; the request log reads the records.
            hours.append(
                UsageHour(
                    hour=at,
                    user=user,
                    key_id=made[i % 4].pk,
                    model=model,
                    requests=1,
                    prompt_tokens=prompt,
                    completion_tokens=completion,
                    cost=cost,
                )
            )
            records.append(
                UsageRecord(
                    request_id=f"req_layout_{day:02d}_{i}_0123456789abcdef0123456789",
                    user=user,
                    api_key=made[i % 4],
                    model=model,
                    prompt_tokens=prompt,
                    completion_tokens=completion,
                    cost=cost,
                    status=200,
                    latency_ms=900,
                    created_at=at + timedelta(minutes=5),
                )
            )
    for model, status in (("", 400), ("gpt-5", 404)):  # no model; a model that does not exist
        hours.append(
            UsageHour(hour=hour, user=user, key_id=made[1].pk, model=model, requests=1, errors=1)
        )
        records.append(
            UsageRecord(
                request_id=f"req_layout_bad_{status}",
                user=user,
                api_key=made[1],
                model=model,
                status=status,
                created_at=hour + timedelta(minutes=5),
            )
        )
    UsageHour.objects.bulk_create(hours)
    UsageRecord.objects.bulk_create(records)
    return user


def log_in(page, email):
    page.goto("/accounts/login/")
    page.get_by_label("Email:").fill(email)
    page.get_by_label("Password:").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url("**/dashboard/")


def overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


@pytest.mark.parametrize("viewport", [PHONE, TABLET, LAPTOP], ids=["390px", "800px", "1280px"])
def test_every_keys_action_is_on_screen(page, busy_user, viewport):
    page.set_viewport_size(viewport)
    log_in(page, busy_user.email)
    page.goto("/keys/")
    rows = page.locator(".keys-table tbody tr")
    assert rows.count() == 5
    for i in range(rows.count()):
        row = rows.nth(i)
        revoke = row.get_by_role("link", name="Revoke…")
        revoke.scroll_into_view_if_needed()
        assert revoke.is_visible()
        box = revoke.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], (i, box)
        badge = row.locator(".badge")
        badge_box = badge.bounding_box()
        assert badge_box["x"] + badge_box["width"] <= viewport["width"]
        # The badge's whole word shows ("Rotating", not "Rotatin").
        assert badge.evaluate("b => b.scrollWidth <= b.clientWidth")
    rotating = page.locator("tr", has_text="Rotating")
    assert rotating.get_by_role("link", name="Rotate…").count() == 0


def test_the_menu_collapses_on_a_phone_and_opens_with_its_button(page, busy_user):
    page.set_viewport_size(PHONE)
    log_in(page, busy_user.email)
    nav_link = page.get_by_role("navigation", name="Main").get_by_role("link", name="Usage")
    toggle = page.get_by_role("button", name="Menu")
    assert toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false"
    assert not nav_link.is_visible()
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert nav_link.is_visible()
    assert page.get_by_text("Account settings").count() == 1
    nav_link.click()
    page.wait_for_url("**/usage/")
    assert (
        not page.get_by_role("navigation", name="Main")
        .get_by_role("link", name="API Keys")
        .is_visible()
    )
    page.keyboard.press("Escape")  # nothing open: nothing happens
    assert overflow(page) <= 0


def test_the_menu_is_a_plain_row_on_a_laptop(page, busy_user):
    page.set_viewport_size(LAPTOP)
    log_in(page, busy_user.email)
    assert not page.get_by_role("button", name="Menu").is_visible()
    nav = page.get_by_role("navigation", name="Main")
    for name in ("Dashboard", "API Keys", "Usage", "Billing", "Docs"):
        assert nav.get_by_role("link", name=name).is_visible()


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["390px", "1280px"])
def test_charts_keep_a_real_height_with_eight_models_over_30_days(page, busy_user, viewport):
    page.set_viewport_size(viewport)
    log_in(page, busy_user.email)
    page.goto("/usage/?range=30d")
    for kind in ("cost", "tokens", "requests"):
        canvas = page.locator(f"canvas[data-chart={kind}]")
        page.wait_for_function(
            "k => { const c = document.querySelector(`canvas[data-chart=${k}]`);"
            " return window.Chart && Chart.getChart(c); }",
            arg=kind,
        )
        box = canvas.bounding_box()
        assert box["height"] >= 250, (kind, box)
        assert box["width"] <= viewport["width"]
        # Chart.js's own layout: the plot area (without legend and axes) stays tall.
        plot = page.evaluate(
            "k => { const ch = Chart.getChart(document.querySelector(`canvas[data-chart=${k}]`));"
            " return ch.chartArea.bottom - ch.chartArea.top; }",
            kind,
        )
        assert plot >= 120, (kind, plot)
    legend = page.evaluate(
        "() => Chart.getChart(document.querySelector('canvas[data-chart=cost]'))"
        ".legend.legendItems.map(i => i.text)"
    )
    assert sorted(legend) == sorted(MODELS)  # no blank series, no "gpt-5", nothing cut
    assert "gpt-5" not in page.content()


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["390px", "1280px"])
def test_todays_bar_has_its_date_and_the_axes_their_units(page, busy_user, viewport):
    """Issue #24, 11: the newest bar (today) has a date label Chart.js draws, whatever the
    width; the y axis is titled with its unit."""
    page.set_viewport_size(viewport)
    log_in(page, busy_user.email)
    today = {timezone.now().date().isoformat()}  # the account's zone: UTC
    page.goto("/usage/?range=30d")
    today.add(timezone.now().date().isoformat())
    units = {"cost": "credits", "tokens": "tokens", "requests": "requests"}
    for kind, unit in units.items():
        page.wait_for_function(
            "k => window.Chart"
            " && Chart.getChart(document.querySelector(`canvas[data-chart=${k}]`))",
            arg=kind,
        )
        drawn = page.evaluate(
            """k => {
              const canvas = document.querySelector(`canvas[data-chart=${k}]`);
              const chart = Chart.getChart(canvas);
              const x = chart.scales.x;
              // What the x axis draws: its label items with text, left to right.
              const items = x.getLabelItems(chart.chartArea)
                .filter(i => i.label !== null && i.label !== undefined && String(i.label) !== "")
                .map(i => ({label: String(i.label), at: i.options.translation[0]}));
              const y = chart.scales.y.options.title;
              return {
                labels: chart.data.labels.map(String),
                items: items,
                width: chart.width,
                yTitle: y.display ? String(y.text) : "",
              };
            }""",
            kind,
        )
        assert drawn["labels"][-1] in today, drawn["labels"][-3:]
        assert drawn["items"], (kind, drawn)
        last = drawn["items"][-1]
        assert last["label"] == drawn["labels"][-1], (kind, last, drawn["labels"][-3:])
        assert 0 <= last["at"] <= drawn["width"], (kind, last)  # on the canvas, not cut off
        assert unit in drawn["yTitle"].lower(), (kind, drawn["yTitle"])


def test_unknown_pages_get_the_sites_404(page, busy_user):
    response = page.goto("/no-such-page/")
    assert response.status == 404
    assert page.get_by_role("heading", name="Page not found").is_visible()
    assert page.locator("link[rel=stylesheet][href*='site.css']").count() == 1
    assert page.locator("link[rel=icon][href$='favicon.svg']").count() == 1
    assert page.request.get("/favicon.ico").status == 200  # redirected to the SVG


@pytest.mark.parametrize("width", [360, 1920])
def test_public_pages_fit_from_360_to_1920_px_and_link_the_models(page, live_server, width):
    page.set_viewport_size({"width": width, "height": 900})
    for url in ("/", "/models/", "/docs/", "/accounts/login/", "/accounts/signup/"):
        page.goto(url)
        assert overflow(page) <= 0, url
    page.goto("/")
    if width < 700:  # the phone menu holds the links
        page.get_by_role("button", name="Menu").click()
    page.get_by_role("link", name="Models", exact=True).first.click()
    page.wait_for_url("**/models/")


PUBLIC_PAGES = ["/", "/models/", "/accounts/login/", "/accounts/signup/"]
SCREENSHOTS = settings.BASE_DIR / "var" / "screenshots"


# Simplified Chinese and English are in test_matrix.py at five widths.
@pytest.mark.parametrize("language", ["zh-hant"])
@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["390px", "1280px"])
def test_every_page_in_chinese_fits_and_is_screenshotted(
    page, live_server, busy_user, viewport, language
):
    """Every page, public and signed in, and every docs page in each Chinese script, without
    sideways scrolling; a screenshot of each under var/screenshots/<language>/<width>/."""
    from apps.docs.pages import SLUGS

    page.set_viewport_size(viewport)
    folder = SCREENSHOTS / language / str(viewport["width"])
    folder.mkdir(parents=True, exist_ok=True)
    cookie = {"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}

    def check(url):
        page.goto(url)
        assert page.locator("html").get_attribute("lang") == language, url
        name = url.strip("/").replace("/", "_").split("?")[0] or "home"
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
        assert overflow(page) <= 0, (language, viewport["width"], url)

    page.context.add_cookies([cookie])
    for url in PUBLIC_PAGES:
        check(url)
    page.context.clear_cookies()
    log_in(page, busy_user.email)
    page.context.add_cookies([cookie])
    for url in [*SIGNED_IN_PAGES, "/models/", *(f"/docs/{slug}/" for slug in SLUGS)]:
        check(url)
