"""Signing in with GitHub in Chromium, end to end, against the stand-in OAuth server."""

import os

import pytest

from apps.accounts.models import User
from apps.core.money import MICRO
from config.settings.base import social_providers_from_env
from tests.accounts.oauth_standin import OAuthStandIn, environ
from tests.servers import ServerThread

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def standin(monkeypatch, settings):
    server = OAuthStandIn()
    with ServerThread(server.app) as thread:
        server.point_at(monkeypatch, thread.url)
        settings.SOCIALACCOUNT_PROVIDERS = social_providers_from_env(environ())
        yield server


@pytest.mark.parametrize("width", [1280, 390])
def test_continue_with_github_lands_on_the_dashboard_with_500_credits(page, standin, width):
    page.set_viewport_size({"width": width, "height": 800})
    page.goto("/accounts/signup/")
    button = page.get_by_role("button", name="Continue with GitHub")
    form_box = page.locator("form").filter(has=page.get_by_label("Email:")).bounding_box()
    box = button.bounding_box()
    assert box["width"] >= form_box["width"] - 1  # as wide as the form, below it
    assert box["y"] > form_box["y"] + form_box["height"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    os.makedirs(os.path.join("var", "screenshots"), exist_ok=True)
    shot = os.path.join("var", "screenshots", f"signup-social-{width}.png")
    page.screenshot(path=shot, full_page=True)
    button.click()
    page.wait_for_url("**/dashboard/")
    assert page.get_by_test_id("balance").inner_text().startswith("500.00")
    user = User.objects.get(email="octo@example.com")
    assert user.credit_account.balance == 500 * MICRO
    assert standin.token_requests  # the code was exchanged with the provider


def test_continue_with_google_from_the_login_page(page, standin):
    page.goto("/accounts/login/?next=/keys/")
    page.get_by_role("button", name="Continue with Google").click()
    page.wait_for_url("**/keys/")
    assert User.objects.filter(email="person@example.com").exists()
