"""The audit log page in a browser, on a phone and a laptop: the account's events readable
without sideways scrolling, the filter applied in place (htmx) with a real address, the CSV
downloaded with what the filter shows."""

import pytest

from apps.credits.services import account_ensure, credits_budget_set
from apps.keys import services as keys
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}


@pytest.fixture
def audited():
    user = UserFactory(email="a-rather-long-address.for-the-audit-log@example.com", verified=True)
    account_ensure(user_id=user.pk)
    key, _ = keys.api_key_create(
        user_id=user.pk,
        name="ci-pipeline-production-runner",
        rpm_limit=120,
        allowed_ips=["203.0.113.0/24", "2001:db8:1234:5678::/64"],
        actor_id=user.pk,
        ip="2001:db8:1234:5678:9abc:def0:1234:5678",
    )
    keys.api_key_revoke(user_id=user.pk, key_id=key.pk, actor_id=user.pk, ip="203.0.113.9")
    credits_budget_set(user_id=user.pk, budget=25_000_000, actor=user, ip="203.0.113.9")
    UserFactory(email="someone-else@example.com")
    return user


def log_in(page, email):
    page.goto("/accounts/login/")
    page.get_by_label("Email:").fill(email)
    page.get_by_label("Password:").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url("**/dashboard/")


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["390px", "1280px"])
def test_the_audit_log_reads_filters_and_exports(page, audited, viewport):
    page.set_viewport_size(viewport)
    log_in(page, audited.email)
    if viewport is PHONE:
        page.get_by_role("button", name="Menu").click()
    page.get_by_text("Account", exact=True).click()
    page.get_by_role("link", name="Audit log").click()
    page.wait_for_url("**/account/audit/")
    rows = page.locator("[data-testid=audit-log] tbody tr")
    # The sign-in set the e-mails' language (the system's change, newest), then ours.
    actions = [rows.nth(n).get_attribute("data-action") for n in range(rows.count())]
    assert actions == ["settings.changed", "budget.changed", "key.revoked", "key.created"]
    budget = page.locator("tr[data-action='budget.changed']")
    assert "Monthly budget changed" in budget.inner_text()
    assert "25.00" in budget.inner_text() and "203.0.113.9" in budget.inner_text()
    created = page.locator("tr[data-action='key.created']").inner_text()
    assert "2001:db8:1234:5678:9abc:def0:1234:5678" in created and "203.0.113.0/24" in created
    assert "System" in rows.first.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    for n in range(rows.count()):
        assert rows.nth(n).is_visible()
    # Long addresses and masked keys wrap inside their cells: none runs past the screen.
    beyond = page.evaluate(
        "[...document.querySelectorAll('[data-testid=audit-log] td code, "
        "[data-testid=audit-log] td li')].filter(e => e.getBoundingClientRect().right > "
        "window.innerWidth || e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)"
    )
    assert beyond == []

    page.get_by_label("Action").select_option("key.revoked")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/account/audit/?*action=key.revoked*")
    rows = page.locator("[data-testid=audit-log] tbody tr")
    rows.first.wait_for()
    assert rows.count() == 1 and "API key revoked" in rows.first.inner_text()
    assert page.get_by_test_id("audit-count").inner_text() == "Events: 1"
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0

    with page.expect_download() as download:
        page.get_by_test_id("audit-export").click()
    content = open(download.value.path(), "rb").read()  # noqa: SIM115
    assert content.startswith(b"\xef\xbb\xbf")
    lines = content.decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 2 and "key.revoked" in lines[1] and "someone-else" not in content.decode()
