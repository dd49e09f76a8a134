import json
import re

import pytest
from django.urls import reverse

from apps.docs import pages
from apps.docs.pages import SLUGS

pytestmark = pytest.mark.django_db
CODE = re.compile(
    r'<div class="code" data-lang="([\w-]+)".*?<code class="language-[\w-]+">(.*?)</code>', re.S
)
TAG = re.compile(r"<[^>]+>")


def code_blocks(body: str) -> list[tuple[str, str]]:
    import html

    return [(lang, html.unescape(TAG.sub("", code))) for lang, code in CODE.findall(body)]


@pytest.mark.parametrize("slug", SLUGS)
def test_every_page_renders_with_sidebar_and_no_placeholder(client, slug):
    response = client.get(reverse("docs:page", args=[slug]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "<h1" in body and 'aria-current="page"' in body
    assert not re.search(r"\{\{ ?[A-Z_]+ ?\}\}", body)  # every live part filled in
    assert "opencodex.hk" not in body  # the site's own URL, never a hard-coded host


def test_index_redirects_and_unknown_pages_404(client):
    assert client.get("/docs/").url == reverse("docs:page", args=["overview"])
    assert client.get("/docs/nope/").status_code == 404


def test_examples_use_the_sites_public_url(client, settings):
    from apps.docs import pages

    pages.render.cache_clear()
    settings.SITE_URL = "https://api.example.test"
    body = client.get(reverse("docs:page", args=["examples"])).content.decode()
    assert "https://api.example.test/api/v1" in body
    pages.render.cache_clear()


def test_every_sample_is_valid_python_json_or_shell(client):
    seen = set()
    for slug in SLUGS:
        body = client.get(reverse("docs:page", args=[slug])).content.decode()
        for lang, code in code_blocks(body):
            seen.add(lang)
            if lang == "python":
                compile(code, f"{slug}.py", "exec")
            elif lang == "json":
                json.loads(code.replace("…", ""))
            elif lang == "bash":
                assert code.startswith("curl ") and "Authorization: Bearer" in code
    assert {"python", "json", "bash", "javascript", "powershell"} <= seen


def test_models_page_lists_the_catalog_with_prices(client):
    from django.core.management import call_command

    call_command("sync_catalog", stdout=open("/dev/null", "w"))  # noqa: SIM115
    body = client.get(reverse("docs:page", args=["models"])).content.decode()
    assert "<code>deepseek-chat</code>" in body
    assert "27 credits" in body and "($0.27)" in body
    assert "<code>gpt-4o</code>" in body and "250 credits" in body
    # Cached input at its own price; a cache-write price where it differs from input.
    cached = re.findall(r'data-testid="cached-price">(.*?)</td>', body)
    assert any(c.startswith("7 <span") and "($0.07)" in c for c in cached)  # deepseek-chat
    assert any("cache write 375 ($3.75)" in c for c in cached)  # claude-3-5-sonnet
    assert '<td class="num">8192</td>' in body  # max output


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_docs_say_how_errors_retries_limits_and_caching_work(client, language):
    def page(slug):
        return client.get(
            reverse("docs:page", args=[slug]), HTTP_ACCEPT_LANGUAGE=language
        ).content.decode()

    errors = page("errors")
    assert "context_length_exceeded" in errors and "x-stainless-retry-count" in errors
    assert "2 + 1 + 1 = <strong>4</strong>" in errors and "retry-after-ms" in errors
    chat = page("chat-completions")
    assert "x-opencodex-max-tokens-reason" in chat and "max_completion_tokens" in chat
    assert "cached_input_" in page("models") and "keep-alive" in page("streaming")
    for slug in SLUGS:
        body = page(slug)
        assert "1 MiB" not in body and "4096" not in body, slug


def test_error_page_lists_every_status_the_gateway_uses(client):
    body = client.get(reverse("docs:page", args=["errors"])).content.decode()
    for status in ("400", "401", "402", "429", "500", "502, 503, 504"):
        assert f"<td>{status}" in body
    assert "sk-live-" in body


def test_code_tabs_and_copy_buttons_are_marked_up(client):
    body = client.get(reverse("docs:page", args=["quickstart"])).content.decode()
    assert 'class="code-tabs"' in body and 'data-label="cURL"' in body
    assert 'data-label="PowerShell"' in body and 'class="copy-code"' in body
    assert 'class="headerlink"' in body  # anchors on headings
    assert 'id="docs-search"' in body


ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}


@pytest.mark.parametrize("slug", SLUGS)
def test_every_page_in_chinese_has_its_translated_title_and_the_same_samples(client, slug):
    from django.utils import translation

    english = client.get(reverse("docs:page", args=[slug]), HTTP_ACCEPT_LANGUAGE="en")
    chinese = client.get(reverse("docs:page", args=[slug]), **ZH)
    body = chinese.content.decode()
    assert chinese.status_code == 200 and '<html lang="zh-hans">' in body
    title = dict(pages.PAGES)[slug]
    with translation.override("zh-hans"):
        assert f">{title}<" in body.replace('<a class="headerlink"', "<")
    assert not re.search(r"\{\{ ?[A-Z_]+ ?\}\}", body)
    assert code_blocks(english.content.decode()) == code_blocks(body)


def test_the_site_interface_speaks_chinese(client, owner):
    body = client.get("/", **ZH).content.decode()
    assert "注册即送 500 免费积分，无需信用卡。" in body and "免费注册" in body
    client.force_login(owner)
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/dashboard/"})
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert "控制台" in dashboard and "API 密钥" in dashboard and "余额" in dashboard
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert "Dashboard" in client.get(reverse("dashboard")).content.decode()


def test_every_interface_string_is_translated():
    import polib
    from django.conf import settings

    path = settings.BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    catalogue = polib.pofile(str(path))
    assert catalogue.percent_translated() == 100, catalogue.untranslated_entries()
    assert not catalogue.fuzzy_entries()
