"""The footer sits at the bottom of the window on short pages (issue #24, lows), with the
Support, Terms and Privacy links."""

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


# Pages short enough to end above the bottom of the window at both sizes: the check below
# fails (rather than passing unchecked) if one of them grows taller than the window.
SHORT_PAGES = ("/support/", "/accounts/password/reset/")


@pytest.mark.parametrize(("width", "height"), [(1280, 1000), (390, 844)])
def test_the_footer_is_at_the_bottom_of_a_short_page(page, width, height):
    page.set_viewport_size({"width": width, "height": height})
    for url in SHORT_PAGES:
        page.goto(url)
        document = page.evaluate("document.documentElement.scrollHeight")
        assert document <= height, f"{url} is {document} px tall: not a short page at {height}"
        footer = page.locator("footer.site-footer").bounding_box()
        assert abs(footer["y"] + footer["height"] - height) <= 1, (url, footer)
        for name in ("Support", "Terms", "Privacy"):
            assert page.locator("footer").get_by_role("link", name=name, exact=True).is_visible()


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("width", [360, 1280, 1920])
def test_support_terms_and_privacy_fit_in_both_languages(browser, live_server, width, language):
    import os

    context = browser.new_context(
        base_url=live_server.url,
        locale="zh-CN" if language == "zh-hans" else "en-US",
        viewport={"width": width, "height": 900},
    )
    page = context.new_page()
    try:
        for url in ("/support/", "/terms/", "/privacy/"):
            page.goto(url)
            assert page.evaluate("document.documentElement.scrollWidth") <= width, url
            assert page.locator("html").get_attribute("lang") == language
            name = url.strip("/")
            os.makedirs(os.path.join("var", "screenshots"), exist_ok=True)
            page.screenshot(
                path=os.path.join("var", "screenshots", f"{name}-{language}-{width}.png")
            )
    finally:
        context.close()
