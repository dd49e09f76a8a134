"""Forms hold their layout: with errors shown, each field's label, input, error and help stay
together in one block, in that order, at a laptop's and a phone's width (one convention for
every form: templates/forms/field.html through settings.FORM_RENDERER)."""

import os

import pytest

from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = os.path.join("var", "screenshots")


def log_in(page, email):
    page.goto("/accounts/login/")
    page.get_by_label("Email:").fill(email)
    page.get_by_label("Password:").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url("**/dashboard/")


def inside(inner, outer) -> bool:
    return (
        inner["x"] >= outer["x"] - 1
        and inner["y"] >= outer["y"] - 1
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 1
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 1
    )


def overlap(a, b) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"] + 1
        or b["x"] + b["width"] <= a["x"] + 1
        or a["y"] + a["height"] <= b["y"] + 1
        or b["y"] + b["height"] <= a["y"] + 1
    )


def check_fields(form) -> int:
    blocks = [b for b in form.locator(".field").all() if b.is_visible()]
    boxes = []
    errors = 0
    for block in blocks:
        box = block.bounding_box()
        boxes.append(box)
        label = block.locator("label").first.bounding_box()
        control = block.locator("input:not([type=hidden]), select, textarea").first.bounding_box()
        assert inside(label, box) and inside(control, box), block.inner_html()
        assert label["y"] + label["height"] <= control["y"] + 1, block.inner_html()
        error = block.locator(".errorlist")
        if error.count():
            errors += 1
            error_box = error.first.bounding_box()
            assert inside(error_box, box), block.inner_html()
            assert error_box["y"] >= control["y"] + control["height"] - 1, block.inner_html()
        help_text = block.locator(".helptext")
        if help_text.count() and help_text.first.is_visible():
            assert inside(help_text.first.bounding_box(), box)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not overlap(a, b), (a, b)
    return errors


@pytest.mark.parametrize("width", [1280, 390])
def test_the_create_key_form_with_errors_keeps_each_field_together(page, width):
    UserFactory(email="forms@example.com", verified=True)
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, "forms@example.com")
    page.goto("/keys/")
    form = page.locator("form.key-form")
    form.evaluate("f => f.noValidate = true")
    page.get_by_label("Name").fill("laptop")
    page.get_by_label("Credit limit").fill("-5")
    page.get_by_label("Requests per minute").fill("0")
    page.get_by_role("button", name="Create key").click()
    form = page.locator("form.key-form")
    form.locator(".errorlist").first.wait_for()
    assert check_fields(form) >= 2
    os.makedirs(SCREENSHOTS, exist_ok=True)
    shot = os.path.join(SCREENSHOTS, f"create-key-errors-{width}.png")
    page.screenshot(path=shot, full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
