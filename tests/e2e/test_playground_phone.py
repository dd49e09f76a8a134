"""The playground on a phone, and a refused request (issue #24, 10): the message box is on the
first screen at 390 px (the settings fold away), and a refusal says what refused it instead of
leaving an empty reply bubble."""

import os
import re

import pytest

from apps.core.money import MICRO
from apps.credits.services import credits_grant
from tests.e2e.test_playground import asgi_page  # noqa: F401  (the live ASGI page)
from tests.factories import PASSWORD, UserFactory
from tests.gateway.conftest import (  # noqa: F401  (the live gateway's fixtures)
    api,
    drain,
    live_api,
    upstream_url,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page, email):
    page.goto("/accounts/login/")
    page.get_by_label("Email:").fill(email)
    page.get_by_label("Password:").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url("**/dashboard/")


def test_at_390_px_the_message_box_is_above_the_fold(asgi_page, api):  # noqa: F811
    page = asgi_page
    page.set_viewport_size({"width": 390, "height": 844})
    user = UserFactory(email="phone@example.com", verified=True)
    credits_grant(user_id=user.pk, amount=100 * MICRO, kind="topup", reference="phone")
    log_in(page, "phone@example.com")
    page.goto("/playground/")
    box = page.get_by_label("Message").bounding_box()
    send = page.get_by_role("button", name="Send").bounding_box()
    assert box["y"] + box["height"] <= 844 and send["y"] + send["height"] <= 844
    assert not page.get_by_label("Temperature").is_visible()  # folded away
    page.locator("#pg-settings-toggle > summary").click()
    assert page.get_by_label("Temperature").is_visible()
    page.get_by_label("Message").fill("Hi")
    page.get_by_role("button", name="Send").click()
    page.locator(".pg-msg.pg-assistant").get_by_test_id("reply-stats").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    drain(api)


def test_a_refusal_says_what_refused_it_and_leaves_no_empty_bubble(asgi_page, api):  # noqa: F811
    from apps.credits.services import credits_budget_set

    page = asgi_page
    user = UserFactory(email="refused@example.com", verified=True)
    credits_grant(user_id=user.pk, amount=100 * MICRO, kind="adjustment", reference="refused")
    credits_budget_set(user_id=user.pk, budget=0)
    log_in(page, "refused@example.com")
    page.goto("/playground/")
    page.get_by_label("Message").fill("Hello?")
    page.get_by_role("button", name="Send").click()
    error = page.get_by_test_id("playground-error")
    error.wait_for()
    assert "Monthly budget reached" in error.inner_text()
    assert page.locator(".pg-msg.pg-assistant").count() == 0  # no empty red bubble
    assert page.get_by_label("Message").input_value() == "Hello?"
    drain(api)


def test_top_p_stop_and_seed_are_sent_and_shown_in_the_code(asgi_page, api):  # noqa: F811
    page = asgi_page
    user = UserFactory(email="sampling@example.com", verified=True)
    credits_grant(user_id=user.pk, amount=100 * MICRO, kind="topup", reference="sampling")
    log_in(page, "sampling@example.com")
    page.goto("/playground/")
    page.get_by_text("More: top_p, stop, seed").click()
    page.get_by_label("top_p").fill("0.5")
    page.get_by_label("Seed").fill("7")
    page.get_by_label("Stop sequences").fill("streams")
    page.get_by_label("Message").fill("Tell me about streams")
    page.get_by_role("button", name="View code").click()
    page.get_by_role("tab", name="Python").click()
    code = page.get_by_test_id("code-python").inner_text()
    assert "top_p" in code and "seed" in code and "streams" in code
    page.get_by_role("button", name="Send").click()
    reply = page.locator(".pg-msg.pg-assistant").first
    reply.get_by_test_id("reply-stats").wait_for()
    assert "streams" not in reply.locator(".pg-content").inner_text()  # it stopped before
    drain(api)


def test_replies_are_markdown_drawn_safely(asgi_page, api):  # noqa: F811
    page = asgi_page
    UserFactory(email="md@example.com", verified=True)
    log_in(page, "md@example.com")
    page.goto("/playground/")
    html = page.evaluate(
        """() => {
          const box = document.createElement("div");
          window.OCXMarkdown.into(box, [
            "# Title", "Some **bold**, *italic* and `code` with <img src=x onerror=alert(1)>.",
            "- one", "- two", "", "```python", "print('<b>hi</b>')", "```",
            "[safe](https://example.com) [unsafe](javascript:alert(1))",
          ].join("\\n"));
          return box.innerHTML;
        }"""
    )
    assert "<strong>bold</strong>" in html and "<em>italic</em>" in html
    assert "<code>code</code>" in html and "<ul><li>one</li><li>two</li></ul>" in html
    assert "<img" not in html and "&lt;img" in html  # shown as text, never markup
    assert "&lt;b&gt;hi&lt;/b&gt;" in html and '<code data-lang="python">' in html
    assert 'href="https://example.com"' in html and "javascript:" not in html.split("unsafe")[0]
    assert "<a" not in html.split("https://example.com")[1]  # the javascript: link is text


@pytest.mark.parametrize("width", [1280, 390])
def test_two_models_side_by_side_with_their_cost_and_time(asgi_page, api, width):  # noqa: F811
    page = asgi_page
    page.set_viewport_size({"width": width, "height": 900})
    user = UserFactory(email=f"compare{width}@example.com", verified=True)
    credits_grant(user_id=user.pk, amount=100 * MICRO, kind="topup", reference=f"cmp{width}")
    log_in(page, f"compare{width}@example.com")
    page.goto("/playground/")
    if width < 861:
        page.locator("#pg-settings-toggle > summary").click()
    page.get_by_label("Model", exact=True).select_option("demo-chat")
    page.get_by_label("Compare with").select_option("deepseek-chat")
    page.get_by_label("Message").fill("Compare these")
    page.get_by_role("button", name="Send").click()
    pair = page.get_by_test_id("compare-pair")
    replies = pair.locator(".pg-msg.pg-assistant")
    replies.nth(1).get_by_test_id("reply-stats").wait_for()
    replies.nth(0).get_by_test_id("reply-stats").wait_for()
    assert replies.count() == 2
    for i, model in enumerate(["demo-chat", "deepseek-chat"]):
        reply = replies.nth(i)
        assert model in reply.locator(".pg-role").inner_text()
        assert reply.locator(".pg-content").inner_text().startswith("[demo]")
        stats = reply.get_by_test_id("reply-stats").inner_text()
        assert re.search(r"credits", stats) and re.search(r"\d+ ms", stats), stats
    first, second = replies.nth(0).bounding_box(), replies.nth(1).bounding_box()
    if width >= 861:
        assert abs(first["y"] - second["y"]) < 2 and second["x"] > first["x"] + first["width"]
    else:
        assert second["y"] >= first["y"] + first["height"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    os.makedirs(os.path.join("var", "screenshots"), exist_ok=True)
    page.screenshot(path=os.path.join("var", "screenshots", f"playground-compare-{width}.png"))
    drain(api)
