import pytest

from apps.keys.selectors import api_key_verify
from tests.factories import PASSWORD, UserFactory
from tests.keys.factories import make_key

from .test_layout import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_new_user_is_shown_the_next_step(page):
    UserFactory(email="fresh@example.com", verified=True)
    log_in(page, "fresh@example.com")
    step = page.get_by_test_id("next-step")
    assert "create an API key" in step.inner_text()
    step.get_by_role("link", name="Create an API key").click()
    page.wait_for_url("**/keys/")


def test_settings_time_zone_and_deleting_the_account(page):
    user = UserFactory(email="leaving@example.com", verified=True)
    _, secret = make_key(user, name="laptop")
    log_in(page, "leaving@example.com")
    page.get_by_text("Account", exact=True).click()  # the account menu
    page.get_by_role("link", name="Account settings").click()
    page.wait_for_url("**/account/")

    page.locator("#time-zone").get_by_label("Time zone").select_option("Asia/Tokyo")
    page.locator("#time-zone").get_by_role("button", name="Save").click()
    page.get_by_text("Time zone saved.").wait_for()
    page.goto("/usage/")
    assert "Times in Asia/Tokyo" in page.content()

    page.goto("/account/")
    page.get_by_label("Type your password to confirm").fill("wrong password")
    page.get_by_role("button", name="Delete my account").click()
    page.get_by_text("That is not your password.").wait_for()
    assert api_key_verify(presented=secret).ok

    page.get_by_label("Type your password to confirm").fill(PASSWORD)
    page.get_by_role("button", name="Delete my account").click()
    page.get_by_text("Your account is deleted").wait_for()
    assert api_key_verify(presented=secret).reason == "revoked"
    page.goto("/dashboard/")
    page.wait_for_url("**/accounts/login/**")
    page.get_by_label("Email:").fill("leaving@example.com")
    page.get_by_label("Password:").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    assert "/accounts/login/" in page.url  # nobody can sign in as them any more
