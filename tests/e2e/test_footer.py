"""The footer sits at the bottom of the window on short pages (issue #24, lows), with the
Support, Terms and Privacy links."""

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(("width", "height"), [(1280, 1000), (390, 844)])
def test_the_footer_is_at_the_bottom_of_a_short_page(page, width, height):
    page.set_viewport_size({"width": width, "height": height})
    for url in ("/accounts/login/", "/support/"):
        page.goto(url)
        footer = page.locator("footer.site-footer").bounding_box()
        document = page.evaluate("document.documentElement.scrollHeight")
        if document <= height:
            assert abs(footer["y"] + footer["height"] - height) <= 1, (url, footer)
        for name in ("Support", "Terms", "Privacy"):
            assert page.locator("footer").get_by_role("link", name=name, exact=True).is_visible()
