import json

import pytest
from django.test import Client

from apps.billing.models import Payment
from apps.core.money import MICRO
from apps.credits.models import Account, LedgerEntry
from tests.billing import stripe_standin
from tests.billing.webhooks import event, sign
from tests.factories import UserFactory

from .test_keys import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_top_up_through_the_stand_in_checkout_and_the_signed_webhook(page, stripe_on):
    user = UserFactory(email="payer@example.com", verified=True)
    log_in(page, "payer@example.com")
    page.get_by_role("link", name="Billing").click()
    page.get_by_role("button", name="1,000 credits").click()
    page.wait_for_url(f"{stripe_on}/pay/**")
    page.get_by_role("button", name="Pay $10.00").click()
    page.wait_for_url("**/billing/")
    assert "1,000 credits were added" in page.content()
    assert page.get_by_test_id("balance").inner_text().startswith("1,000.00")

    payment = Payment.objects.get(user=user)
    session = stripe_standin.sessions[payment.checkout_session_id]
    body = json.dumps(event("checkout.session.completed", session)).encode()
    response = Client().generic(
        "POST",
        "/billing/stripe/webhook/",
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body),
    )
    assert response.status_code == 200
    page.reload()
    assert Account.objects.get(user=user).balance == 1000 * MICRO
    assert LedgerEntry.objects.filter(kind="topup").count() == 1
    assert "Paid" in page.content()
