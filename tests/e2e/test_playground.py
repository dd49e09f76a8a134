"""The playground in a real browser against the whole product served over HTTP (portal, gateway
and demo model in one ASGI app): a message to the demo model streams its answer in with tokens
and cost, "View code" shows the same request, the reply links to its request page."""

import re

import pytest

from apps.core.money import MICRO
from apps.credits.services import credits_grant
from apps.usage.models import UsageRecord
from tests.e2e.browser import csp_page
from tests.factories import PASSWORD, UserFactory
from tests.gateway.conftest import (  # noqa: F401  (the live gateway's fixtures)
    api,
    drain,
    live_api,
    upstream_url,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def asgi_page(browser, api, settings):  # noqa: F811
    """A browser page on the live ASGI server; fails on any Content-Security-Policy refusal."""
    settings.PLAYGROUND_API_BASE_URL = f"{api.url}/api/v1"
    page, refused = csp_page(browser, api.url)
    yield page
    page.context.close()
    assert not refused, refused


def test_send_a_message_watch_it_stream_and_view_the_code(asgi_page, api):  # noqa: F811
    page = asgi_page
    user = UserFactory(email="play@example.com", verified=True)
    credits_grant(user_id=user.pk, amount=100 * MICRO, kind="topup", reference="play")
    page.goto("/accounts/login/")
    page.get_by_label("Email:").fill("play@example.com")
    page.get_by_label("Password:").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url("**/dashboard/")

    page.get_by_role("link", name="Playground", exact=True).click()
    page.wait_for_url("**/playground/")
    page.get_by_label("Model").select_option("demo-chat")
    page.get_by_label("System prompt").fill("You are terse.")
    page.get_by_label("Message").fill("Tell me about streams")
    page.get_by_role("button", name="Send").click()

    reply = page.locator(".pg-msg.pg-assistant").first
    stats = reply.get_by_test_id("reply-stats")
    stats.wait_for()
    assert reply.locator(".pg-content").inner_text().startswith("[demo]")
    line = stats.inner_text()
    assert re.search(r"\d+ prompt \+ \d+ completion tokens", line), line
    assert re.search(r"0\.\d{6} credits", line), line
    request_id = re.search(r"req_[0-9a-f]+", line).group(0)
    drain(api)
    record = UsageRecord.objects.get(request_id=request_id)
    assert f"{record.cost / MICRO:.6f} credits" in line
    assert record.api_key.name == "Playground"
    assert page.locator(".pg-msg.pg-user").inner_text().endswith("Tell me about streams")

    page.get_by_role("button", name="View code").click()
    python = page.get_by_test_id("code-python")
    curl = page.get_by_test_id("code-curl")
    assert curl.is_visible() and not python.is_visible()
    assert "sk-live-YOUR_API_KEY" in curl.inner_text()
    assert "/api/v1/chat/completions" in curl.inner_text()
    page.get_by_role("tab", name="Python").click()
    code = python.inner_text()
    assert python.is_visible() and 'model="demo-chat"' in code
    assert '"content": "You are terse."' in code and "Tell me about streams" in code
    assert '"role": "assistant"' in code  # the conversation so far
    page.get_by_role("tab", name="JavaScript").click()
    assert "baseURL:" in page.get_by_test_id("code-javascript").inner_text()

    stats.get_by_role("link", name=request_id).click()
    page.wait_for_url(f"**/usage/requests/{request_id}/")
    assert page.get_by_test_id("completion-tokens").inner_text() == str(record.completion_tokens)


def test_an_empty_account_sees_why_nothing_was_answered(asgi_page, api):  # noqa: F811
    page = asgi_page
    from tests.factories import AccountFactory

    AccountFactory(user__email="broke@example.com", user__verified=True)
    page.goto("/accounts/login/")
    page.get_by_label("Email:").fill("broke@example.com")
    page.get_by_label("Password:").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url("**/dashboard/")
    page.goto("/playground/")
    page.get_by_label("Message").fill("Hello?")
    page.get_by_role("button", name="Send").click()
    error = page.get_by_test_id("playground-error")
    error.wait_for()
    assert "Out of credits" in error.inner_text()
    assert error.get_by_role("link", name="Top up").is_visible()
    assert page.get_by_label("Message").input_value() == "Hello?"  # kept, to send again
    drain(api)


def test_a_reached_budget_is_not_called_out_of_credits(asgi_page, api):  # noqa: F811
    """Issue #24, 2: the API's 402 for a reached monthly budget is titled by its code, with
    the way out (raise the budget), not "Out of credits" with a top-up link."""
    from apps.credits.services import credits_budget_set

    page = asgi_page
    user = UserFactory(email="capped@example.com", verified=True)
    credits_grant(user_id=user.pk, amount=100 * MICRO, kind="adjustment", reference="capped")
    credits_budget_set(user_id=user.pk, budget=0)
    page.goto("/accounts/login/")
    page.get_by_label("Email:").fill("capped@example.com")
    page.get_by_label("Password:").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url("**/dashboard/")
    assert page.get_by_test_id("account-warning").is_visible()
    page.goto("/playground/")
    page.get_by_label("Message").fill("Hello?")
    page.get_by_role("button", name="Send").click()
    error = page.get_by_test_id("playground-error")
    error.wait_for()
    text = error.inner_text()
    assert "Monthly budget reached" in text and "Out of credits" not in text
    assert error.get_by_role("link", name="Raise the budget").is_visible()
    assert error.get_by_role("link", name="Top up").count() == 0
    drain(api)


def sign_in_to_the_playground(page, email):
    page.goto("/accounts/login/")
    page.get_by_label("Email:").fill(email)
    page.get_by_label("Password:").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url("**/dashboard/")
    page.goto("/playground/")


def send_and_read_the_refusal(page):
    page.get_by_label("Message").fill("Hello?")
    page.get_by_role("button", name="Send").click()
    error = page.get_by_test_id("playground-error")
    error.wait_for()
    assert page.get_by_label("Message").input_value() == "Hello?"  # kept, to send again
    return error


def test_a_suspended_account_is_not_called_out_of_credits(asgi_page, api):  # noqa: F811
    """Issue #24, 2: a suspended account (credits to spare) is refused as suspended, with no
    top-up offered: paying more would not help."""
    from apps.credits.services import credits_account_suspend

    page = asgi_page
    user = UserFactory(email="suspended@example.com", verified=True)
    credits_grant(user_id=user.pk, amount=100 * MICRO, kind="adjustment", reference="susp")
    credits_account_suspend(user_id=user.pk, suspended=True)
    sign_in_to_the_playground(page, "suspended@example.com")
    error = send_and_read_the_refusal(page)
    text = error.inner_text()
    assert error.locator("strong").inner_text() == "Account suspended"
    assert "Your account is suspended while a payment dispute is open" in text
    assert "Out of credits" not in text
    assert error.get_by_role("link", name="Top up").count() == 0
    drain(api)


def test_the_playground_key_at_its_credit_limit_says_so(asgi_page, api):  # noqa: F811
    """Issue #24, 2: the playground's key has spent its whole credit limit: the refusal is
    titled by the key's limit and leads to raising it, not to a top-up."""
    from apps.console.services import playground_key_get
    from apps.keys.models import ApiKey
    from apps.keys.services import api_key_update

    page = asgi_page
    user = UserFactory(email="keylimit@example.com", verified=True)
    credits_grant(user_id=user.pk, amount=100 * MICRO, kind="adjustment", reference="klim")
    key_id = playground_key_get(user_id=user.pk).key_id  # the key the playground will use
    api_key_update(
        user_id=user.pk, key_id=key_id, name="Playground", credit_limit=MICRO, rpm_limit=None
    )
    ApiKey.objects.filter(pk=key_id).update(spent=MICRO)  # the whole limit spent
    sign_in_to_the_playground(page, "keylimit@example.com")
    error = send_and_read_the_refusal(page)
    text = error.inner_text()
    assert error.locator("strong").inner_text() == "Key credit limit reached"
    assert "This API key has reached its credit limit" in text
    assert "Out of credits" not in text
    assert error.get_by_role("link", name="Top up").count() == 0
    raise_it = error.get_by_role("link", name="Raise the key's limit")
    assert raise_it.get_attribute("href") == "/keys/"
    drain(api)


def test_the_playground_key_at_its_spend_limit_says_so(asgi_page, api):  # noqa: F811
    """Issue #24, 2: a key's spend limit for its day (not its total credit limit, nor the
    balance) is titled as such, with the reset time the API gives and the way to raise it."""
    from apps.console.services import playground_key_get
    from apps.keys.services import api_key_update

    page = asgi_page
    user = UserFactory(email="keyday@example.com", verified=True)
    credits_grant(user_id=user.pk, amount=100 * MICRO, kind="adjustment", reference="kday")
    key_id = playground_key_get(user_id=user.pk).key_id
    api_key_update(
        user_id=user.pk,
        key_id=key_id,
        name="Playground",
        credit_limit=None,
        rpm_limit=None,
        spend_limit=1,  # 1 µcr a day: less than any request's estimate
        spend_window="day",
    )
    sign_in_to_the_playground(page, "keyday@example.com")
    error = send_and_read_the_refusal(page)
    text = error.inner_text()
    assert error.locator("strong").inner_text() == "Key spend limit reached"
    assert "This API key has reached its daily spend limit" in text and "resets at" in text
    assert "Out of credits" not in text
    assert error.get_by_role("link", name="Top up").count() == 0
    assert error.get_by_role("link", name="Raise the key's limit").is_visible()
    drain(api)
