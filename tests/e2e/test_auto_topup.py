import pytest

from apps.billing.models import AutoTopUp
from tests.factories import UserFactory

from .test_keys import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_turn_auto_top_up_on_through_the_stand_in_setup_page(page, stripe_on):
    user = UserFactory(email="agent@example.com", verified=True)
    log_in(page, "agent@example.com")
    page.get_by_role("link", name="Billing").click()
    page.get_by_role("button", name="Save a card").click()
    page.wait_for_url(f"{stripe_on}/pay/**")
    page.get_by_role("button", name="Save card").click()
    page.wait_for_url("**/billing/")
    assert "Card saved: Visa ending 4242" in page.content()
    assert page.get_by_test_id("saved-card").inner_text().startswith("Saved card: Visa ending 4242")
    page.get_by_label("Turn on auto top-up").check()
    page.get_by_label("When the balance falls below").fill("200")
    page.get_by_label("Top up by (US$)").fill("25")
    page.get_by_role("button", name="Save auto top-up").click()
    page.wait_for_url("**/billing/")
    assert "Auto top-up is on." in page.content()
    config = AutoTopUp.objects.get(user=user)
    assert config.enabled and config.threshold == 200_000_000 and config.amount_cents == 2500
    assert config.payment_method_id == "pm_card_visa" and config.customer_id.startswith("cus_")
