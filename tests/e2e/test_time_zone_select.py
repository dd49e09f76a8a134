"""The time zone select has a search box and "Use my browser's zone" (issue #24, lows)."""

import pytest

from apps.accounts.models import User
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_search_the_zones_and_use_the_browsers(browser, live_server):
    UserFactory(email="tz@example.com", verified=True)
    context = browser.new_context(base_url=live_server.url, timezone_id="Asia/Shanghai")
    page = context.new_page()
    try:
        page.goto("/accounts/login/")
        page.get_by_label("Email:").fill("tz@example.com")
        page.get_by_label("Password:").fill(PASSWORD)
        page.get_by_role("button", name="Sign In").click()
        page.wait_for_url("**/dashboard/")
        page.goto("/account/")
        page.get_by_label("Search by city or region").fill("tokyo")
        assert page.locator("#id_time_zone").input_value() == "Asia/Tokyo"
        page.get_by_role("button", name="Use my browser's zone (Asia/Shanghai)").click()
        assert page.locator("#id_time_zone").input_value() == "Asia/Shanghai"
        page.locator("#time-zone").get_by_role("button", name="Save").click()
        page.wait_for_load_state()
        page.locator("#time-zone").wait_for()
        assert User.objects.get(email="tz@example.com").time_zone == "Asia/Shanghai"
    finally:
        context.close()
