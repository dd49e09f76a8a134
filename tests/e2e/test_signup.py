import re

import pytest
from django.core import mail

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_sign_up_verify_from_the_email_and_see_500_credits(page):
    page.goto("/")
    page.get_by_role("link", name="Sign Up Free").first.click()
    page.get_by_label("Email:").fill("browser@example.com")
    page.get_by_label("Password:", exact=True).fill("a-long-and-unusual-passphrase")
    page.get_by_label("Password (again):").fill("a-long-and-unusual-passphrase")
    page.get_by_role("button", name="Sign Up").click()
    page.wait_for_url("**/accounts/confirm-email/")
    assert "Verify" in page.content()

    assert len(mail.outbox) == 1
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[0].body).group(0)
    page.goto(link)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/dashboard/")
    assert page.get_by_test_id("balance").inner_text().startswith("500.00")
    assert "Signup grant" in page.content()
