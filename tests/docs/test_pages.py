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


TABLE_CATALOG = """
[providers.p]
base_url = "https://p.example/v1"

[[models]]
id = "cached-model"
provider = "p"
family = "Test"
input_price = "3.00"
output_price = "15.00"
cached_input_price = "0.30"
cache_write_price = "3.75"
request_price = "0.005"
context_length = 200000
max_output = 64000

[[models]]
id = "plain-model"
provider = "p"
family = "Test"
input_price = "1.20"
output_price = "2.00"
context_length = 8192
max_output = 1024
"""


def table_rows(body: str) -> dict[str, str]:
    """The model table's rows by model id."""
    table = body[body.index('class="models-table"') : body.index("</table>")]
    rows = re.findall(r"<tr><td><code>([^<]+)</code></td>(.*?)</tr>", table, re.S)
    return dict(rows)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_model_table_shows_the_catalogs_cached_write_and_request_prices(client, tmp_path, language):
    from django.core.management import call_command

    path = tmp_path / "catalog.toml"
    path.write_text(TABLE_CATALOG)
    call_command("sync_catalog", "--file", str(path), stdout=open("/dev/null", "w"))  # noqa: SIM115
    body = client.get(
        reverse("docs:page", args=["models"]), HTTP_ACCEPT_LANGUAGE=language
    ).content.decode()
    rows = table_rows(body)
    assert set(rows) == {"cached-model", "plain-model"}
    cached, plain = rows["cached-model"], rows["plain-model"]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", cached, re.S)
    # Provider, context, max output, input, cached input, output.
    assert cells[1:3] == ["200000", "64000"]
    assert cells[3].startswith("300 ") and "($3)" in cells[3]
    assert re.search(r'data-testid="cached-price">30 <span class="muted">\(\$0.3\)', cached)
    write = "cache write 375 ($3.75)" if language == "en" else "缓存写入 375（$3.75）"
    request = "+ 0.5 per request ($0.005)" if language == "en" else "每次请求另加 0.5（$0.005）"
    assert write in cached and request in cached
    assert cells[5].startswith("1500 ") and "($15)" in cells[5]
    # Without its own cache prices a model's cached input costs what input costs; no cache-write
    # or per-request line.
    assert re.search(
        r'data-testid="cached-price">120 <span class="muted">\(\$1.2\)</span></td>', plain
    )
    assert '<td class="num">1024</td>' in plain
    assert "request-price" not in plain and ("cache write" not in plain) and "缓存写入" not in plain


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_docs_say_how_errors_retries_limits_and_caching_work(client, language):
    def page(slug):
        return client.get(
            reverse("docs:page", args=[slug]), HTTP_ACCEPT_LANGUAGE=language
        ).content.decode()

    errors = page("errors")
    assert "context_length_exceeded" in errors and "x-stainless-retry-count" in errors
    # A provider's 429 stays a 429, with its Retry-After, and is never retried by the gateway.
    row = re.search(r"<td>429</td>(.*?)</tr>", errors, re.S).group(1)
    assert "<code>Retry-After</code>" in row and "<code>x-ratelimit-*</code>" in row
    assert "<strong>429</strong>" in errors and "retry-after-ms" in errors
    # The retry arithmetic with the openai SDK's defaults.
    assert "<code>max_retries=2</code>" in errors
    assert "2 + 1 + 1 = <strong>4</strong>" in errors and "<strong>3</strong>" in errors
    assert "upstream_auth" in errors and "<td>404" in errors and "32 MiB" in errors
    chat = page("chat-completions")
    assert "x-opencodex-max-tokens-reason" in chat and "max_completion_tokens" in chat
    assert "cache_creation_input_tokens" in chat and "prompt_cache_hit_tokens" in chat
    models = page("models")
    assert "cached_input_" in models and "cache_write_" in models and "/models/{id}" in models
    streaming = page("streaming")
    assert "keep-alive" in streaming and "upstream_stream_broken" in streaming
    assert "below zero" in page("balance") or "负数" in page("balance")
    for slug in SLUGS:
        body = page(slug)
        assert "1 MiB" not in body and "4096" not in body, slug
        assert "never more" not in body.lower() and "不会超过" not in body, slug


def test_error_page_lists_every_status_the_gateway_uses(client):
    body = client.get(reverse("docs:page", args=["errors"])).content.decode()
    for status in ("400", "401", "402", "404", "429", "500", "502, 503, 504"):
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


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_coding_tool_pages_give_the_tested_configurations(client, language, settings):
    import html
    import tomllib

    settings.SITE_URL = "https://opencodex.example"

    def page(slug):
        response = client.get(reverse("docs:page", args=[slug]), HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200
        return response.content.decode()

    claude = page("claude-code")
    assert '<h1 id="claude-code">Claude Code' in claude
    text = html.unescape(TAG.sub("", claude))
    assert 'ANTHROPIC_BASE_URL="https://opencodex.example/api"' in text  # no /v1: it adds that
    codex = page("codex")
    toml = next(code for lang, code in code_blocks(codex) if lang == "toml")
    provider = tomllib.loads(toml)["model_providers"]["opencodex"]
    assert provider["wire_api"] == "responses"
    assert provider["base_url"] == "https://opencodex.example/api/v1"
    tools = page("tools")
    assert "/docs/claude-code/" in tools and "/docs/codex/" in tools
    for tool in ("Cline", "Continue", "opencode", "Qwen Code", "aider", "Cursor"):
        assert f">{tool}<a" in tools or f">{tool}</h2>" in tools, tool
