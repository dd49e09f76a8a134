import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_code_tabs_remember_the_language_and_the_site_switches_to_chinese(page):
    page.goto("/docs/examples/")
    tabs = page.get_by_role("tab")
    assert [t.inner_text() for t in tabs.all()] == ["Python", "JavaScript", "cURL"]
    assert page.locator('.code[data-lang="python"]').is_visible()
    page.get_by_role("tab", name="JavaScript").click()
    assert page.locator('.code[data-lang="javascript"]').is_visible()
    assert not page.locator('.code[data-lang="python"]').is_visible()

    page.get_by_role("link", name="SDK Examples").click()
    page.wait_for_url("**/docs/sdks/")
    assert page.get_by_role("tab", name="JavaScript").get_attribute("aria-selected") == "true"
    assert page.locator('.code[data-lang="javascript"]').is_visible()

    page.get_by_label("Search the docs").fill("stream")
    assert page.get_by_role("link", name="Streaming").is_visible()
    assert not page.get_by_role("link", name="Balance").is_visible()
    page.get_by_label("Search the docs").fill("")

    page.get_by_label("Language").select_option("zh-hans")
    page.wait_for_selector("h1:has-text('SDK 示例')")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert page.get_by_role("link", name="错误码").is_visible()
    assert page.get_by_role("tab", name="JavaScript").get_attribute("aria-selected") == "true"

    page.get_by_label("语言").select_option("zh-hant")
    page.wait_for_selector("h1:has-text('SDK 範例')")
    assert page.locator("html").get_attribute("lang") == "zh-hant"
    assert page.get_by_role("link", name="錯誤碼").is_visible()
    assert page.get_by_role("tab", name="JavaScript").get_attribute("aria-selected") == "true"

    page.get_by_label("語言").select_option("en")
    page.wait_for_selector("h1:has-text('SDK Examples')")
