"""The verify-email page in Chromium: it names the address, "Wrong address?" moves the sign-up
to the right one, and "Send it again" within allauth's limit says no new e-mail went out."""

import os

import pytest
from django.core import mail

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-and-unusual-passphrase"


@pytest.mark.parametrize("width", [1280, 390])
def test_wrong_address_and_send_it_again(page, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/accounts/signup/")
    page.get_by_label("Email:").fill("tpyo@example.com")
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again):").fill(PASSWORD)
    page.get_by_role("button", name="Sign Up").click()
    page.wait_for_url("**/accounts/confirm-email/")
    status = page.get_by_test_id("verification-status")
    assert "We sent a link to tpyo@example.com" in status.inner_text()

    page.get_by_text("Wrong address?").click()
    page.get_by_label("The right email address").fill("typo@example.com")
    page.get_by_role("button", name="Use this address").click()
    page.wait_for_url("**/accounts/confirm-email/")
    assert "We sent a link to typo@example.com" in status.inner_text()
    assert mail.outbox[-1].to == ["typo@example.com"]

    sent = len(mail.outbox)
    page.get_by_role("button", name="Send it again").click()
    page.wait_for_url("**/accounts/confirm-email/")
    assert "We did not send another email just now" in status.inner_text()
    assert len(mail.outbox) == sent
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    os.makedirs(os.path.join("var", "screenshots"), exist_ok=True)
    page.screenshot(path=os.path.join("var", "screenshots", f"verify-email-{width}.png"))
