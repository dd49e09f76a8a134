import pytest

from apps.keys.selectors import api_key_verify
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page, email):
    page.goto("/accounts/login/")
    page.get_by_label("Email:").fill(email)
    page.get_by_label("Password:").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url("**/dashboard/")


def copy_secret(page):
    panel = page.get_by_test_id("secret-panel")
    panel.get_by_role("button", name="Copy").click()
    panel.get_by_role("button", name="Copied!").wait_for()
    return page.evaluate("navigator.clipboard.readText()")


def test_create_copy_rotate_and_revoke_a_key(page):
    UserFactory(email="keys@example.com", verified=True)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in(page, "keys@example.com")

    page.get_by_role("link", name="API Keys").click()
    page.get_by_text("Create your first API key").wait_for()
    page.get_by_label("Name").fill("laptop")
    page.get_by_role("button", name="Create key").click()
    assert "will not be shown again" in page.get_by_test_id("secret-panel").inner_text()
    first = copy_secret(page)
    assert first.startswith("sk-live-") and api_key_verify(presented=first).ok

    page.reload()  # the secret is gone for good
    assert first not in page.content()

    page.locator("tr", has_text="laptop").get_by_role("link", name="Rotate…").click()
    page.get_by_label("1 hour").check()
    page.get_by_role("button", name="Rotate key").click()
    second = copy_secret(page)
    assert page.url.endswith("/keys/")  # redirected after the POST: a reload re-posts nothing
    assert second != first
    assert api_key_verify(presented=first).ok  # still inside the grace period
    assert api_key_verify(presented=second).ok

    old_row = page.locator("tr", has_text="Rotating")
    page.once("dialog", lambda dialog: dialog.accept())
    old_row.get_by_role("link", name="Revoke…").click()
    page.get_by_text("is revoked").wait_for()
    assert api_key_verify(presented=first).reason == "revoked"
    assert api_key_verify(presented=second).ok
