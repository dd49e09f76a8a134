import html
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
    assert "27.00 credits" in body and "($0.27)" in body
    assert "<code>gpt-4o</code>" in body and "250.00 credits" in body
    # Cached input at its own price; a cache-write price where it differs from input.
    cached = re.findall(r'data-testid="cached-price">(.*?)</td>', body)
    assert any(c.startswith("7.00 <span") and "($0.07)" in c for c in cached)  # deepseek-chat
    assert any("cache write 375.00 ($3.75)" in c for c in cached)  # claude-3-5-sonnet
    assert '<td class="num">8,192</td>' in body  # max output


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


@pytest.mark.parametrize("language", ["en", "zh-hans", "zh-hant"])
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
    assert cells[1:3] == ["200,000", "64,000"]
    assert cells[3].startswith("300.00 ") and "($3.00)" in cells[3]
    assert re.search(r'data-testid="cached-price">30.00 <span class="muted">\(\$0.30\)', cached)
    write = {
        "en": "cache write 375.00 ($3.75)",
        "zh-hans": "缓存写入 375.00（$3.75）",
        "zh-hant": "快取寫入 375.00（$3.75）",
    }[language]
    request = {
        "en": "+ 0.50 per request ($0.005)",
        "zh-hans": "每次请求另加 0.50（$0.005）",
        "zh-hant": "每次請求另加 0.50（$0.005）",
    }[language]
    assert write in cached and request in cached
    assert cells[5].startswith("1,500.00 ") and "($15.00)" in cells[5]
    # Without its own cache prices a model's cached input costs what input costs; no cache-write
    # or per-request line.
    assert re.search(
        r'data-testid="cached-price">120.00 <span class="muted">\(\$1.20\)</span></td>', plain
    )
    assert '<td class="num">1,024</td>' in plain
    assert "request-price" not in plain and ("cache write" not in plain) and "缓存写入" not in plain
    assert "快取寫入" not in plain


@pytest.mark.parametrize("language", ["en", "zh-hans", "zh-hant"])
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
    balance = page("balance")
    assert "below zero" in balance or "负数" in balance or "負數" in balance
    for slug in SLUGS:
        body = page(slug)
        assert "1 MiB" not in body and "4096" not in body, slug
        assert "never more" not in body.lower() and "不会超过" not in body, slug
        assert "不會超過" not in body, slug


def test_error_page_lists_every_status_the_gateway_uses(client):
    body = client.get(reverse("docs:page", args=["errors"])).content.decode()
    for status in ("400", "401", "402", "403", "404", "429", "500", "502, 503, 504"):
        assert f"<td>{status}" in body
    assert "sk-live-" in body
    for code in ("model_not_allowed", "ip_not_allowed", "key_spend_limit_reached"):
        assert f"<code>{code}</code>" in body
    assert "<code>token_rate_limit_exceeded</code>" in body


@pytest.mark.parametrize("language", ["en", "zh-CN,zh;q=0.9"])
def test_the_keys_page_explains_every_guardrail_and_its_refusal(client, language):
    body = client.get(
        reverse("docs:page", args=["keys"]), HTTP_ACCEPT_LANGUAGE=language
    ).content.decode()
    for code in (
        "model_not_allowed",
        "ip_not_allowed",
        "api_key_expired",
        "key_credit_limit_reached",
        "key_spend_limit_reached",
        "rate_limit_exceeded",
        "token_rate_limit_exceeded",
        "X-Forwarded-For",
        "x-ratelimit-remaining-tokens",
        "key_spend_limit",
    ):
        assert f"<code>{code}</code>" in body, code
    overview = client.get(reverse("docs:page", args=["overview"]), HTTP_ACCEPT_LANGUAGE=language)
    assert 'href="/docs/keys/"' in overview.content.decode()


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


@pytest.mark.parametrize("header", ["zh-TW,zh;q=0.9", "zh-HK", "zh-Hant"])
@pytest.mark.parametrize("slug", SLUGS)
def test_every_page_in_traditional_chinese_has_its_title_and_the_same_samples(client, slug, header):
    from django.utils import translation

    assert (pages.CONTENT / "zh-hant" / f"{slug}.md").exists()
    english = client.get(reverse("docs:page", args=[slug]), HTTP_ACCEPT_LANGUAGE="en")
    response = client.get(reverse("docs:page", args=[slug]), HTTP_ACCEPT_LANGUAGE=header)
    simplified = client.get(reverse("docs:page", args=[slug]), **ZH).content.decode()
    body = response.content.decode()
    assert response.status_code == 200 and '<html lang="zh-hant">' in body
    title = dict(pages.PAGES)[slug]
    with translation.override("zh-hant"):
        assert f">{title}<" in body.replace('<a class="headerlink"', "<")
    assert not re.search(r"\{\{ ?[A-Z_]+ ?\}\}", body)
    assert code_blocks(english.content.decode()) == code_blocks(body)
    # Its own page, in Traditional characters: not the Simplified one, nor English.
    text = TAG.sub("", body[body.index("<h1") :])
    assert body != simplified and not any(c in text for c in "们这为说请设关于将")


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


LANGUAGES = {"en": "en", "zh-hans": "zh-CN,zh;q=0.9", "zh-hant": "zh-TW,zh;q=0.9"}


def tool_page(client, slug: str, language: str) -> str:
    response = client.get(
        reverse("docs:page", args=[slug]), HTTP_ACCEPT_LANGUAGE=LANGUAGES[language]
    )
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("slug", pages.TOOL_SLUGS)
def test_every_coding_tool_page_renders_with_its_title_as_h1(client, slug, language):
    from django.utils import translation

    body = tool_page(client, slug, language)
    with translation.override(language):
        title = str(dict(pages.PAGES)[slug])
    h1 = re.search(r'<h1 id="[^"]*">(.*?)<a class="headerlink"', body, re.S)
    assert h1 and h1.group(1) == html.escape(title)
    assert pages.render(language, slug, "https://x.test/api/v1").title == title
    assert f"<title>{html.escape(title)} · " in body
    assert not re.search(r"\{\{ ?[A-Z_]+ ?\}\}", body)
    # Each page says whether our CI runs the tool or the settings are the tool's own.
    tested = slug in ("claude-code", "codex")
    marker = (
        {
            "en": "Tested on every change",
            "zh-hans": "每次变更都会测试",
            "zh-hant": "每次變更都會測試",
        }
        if tested
        else {"en": "Documented settings", "zh-hans": "文档中的设置", "zh-hant": "文件中的設定"}
    )
    assert marker[language] in body


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_coding_tool_pages_give_the_tested_configurations(client, language, settings):
    import tomllib

    pages.render.cache_clear()
    settings.SITE_URL = "https://opencodex.example"
    claude = tool_page(client, "claude-code", language)
    assert '<h1 id="claude-code">Claude Code' in claude
    text = html.unescape(TAG.sub("", claude))
    # The site's /api, not /api/v1: Claude Code adds /v1/messages itself.
    assert re.search(r'ANTHROPIC_BASE_URL="https://opencodex\.example/api"\n', text)
    assert "/api/v1" not in re.search(r"ANTHROPIC_BASE_URL=\S*", text).group(0)
    settings_json = next(code for lang, code in code_blocks(claude) if lang == "json")
    env = json.loads(settings_json.replace("…", ""))["env"]
    assert env["ANTHROPIC_BASE_URL"] == "https://opencodex.example/api"
    for name in ("AUTH_TOKEN", "MODEL", "DEFAULT_HAIKU_MODEL", "SMALL_FAST_MODEL"):
        assert f"ANTHROPIC_{name}" in env and f"ANTHROPIC_{name}" in text
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    assert "claude -p " in text and "32,000" in text and "<code>messages</code>" in claude

    codex = tool_page(client, "codex", language)
    toml = next(code for lang, code in code_blocks(codex) if lang == "toml")
    config = tomllib.loads(toml)
    assert config["model_provider"] == "opencodex"
    provider = config["model_providers"]["opencodex"]
    assert provider["wire_api"] == "responses" and provider["env_key"] == "OPENCODEX_API_KEY"
    assert provider["base_url"] == "https://opencodex.example/api/v1"
    text = html.unescape(TAG.sub("", codex))
    assert 'wire_api = "responses"' in text and 'wire_api = "chat"' in text
    assert "codex exec " in text and "<code>responses</code>" in codex
    pages.render.cache_clear()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_chat_completions_tool_pages_give_each_tools_settings(client, language, settings):
    import importlib.util

    pages.render.cache_clear()
    settings.SITE_URL = "https://opencodex.example"
    base = "https://opencodex.example/api/v1"

    def samples(slug, kind):
        return [
            code for lang, code in code_blocks(tool_page(client, slug, language)) if lang == kind
        ]

    continue_yaml = samples("continue", "yaml")[0]
    assert "provider: openai" in continue_yaml and f"apiBase: {base}" in continue_yaml
    if importlib.util.find_spec("yaml"):  # PyYAML, where installed
        import yaml

        model = yaml.safe_load(continue_yaml)["models"][0]
        assert model["provider"] == "openai" and model["apiBase"] == base
        assert model["apiKey"].startswith("sk-live-") and model["model"] == "deepseek-chat"
    opencode = json.loads(samples("opencode", "json")[0])["provider"]["opencodex"]
    assert opencode["npm"] == "@ai-sdk/openai-compatible"
    assert opencode["options"]["baseURL"] == base and "deepseek-chat" in opencode["models"]
    qwen = html.unescape(TAG.sub("", tool_page(client, "qwen-code", language)))
    assert f'OPENAI_BASE_URL="{base}"' in qwen and "OPENAI_MODEL=" in qwen and "8,000" in qwen
    aider = html.unescape(TAG.sub("", tool_page(client, "aider", language)))
    assert f'OPENAI_API_BASE="{base}"' in aider and "--model openai/deepseek-chat" in aider
    cline = html.unescape(TAG.sub("", tool_page(client, "cline", language)))
    assert "OpenAI Compatible" in cline and base in cline
    cursor = html.unescape(TAG.sub("", tool_page(client, "cursor", language)))
    assert "Override OpenAI Base URL" in cursor and "HTTPS" in cursor and base in cursor
    assert "32,000" in html.unescape(tool_page(client, "opencode", language))
    pages.render.cache_clear()


def test_config_samples_in_the_tool_pages_parse(client):
    """TOML, JSON and YAML samples are valid files (YAML only where PyYAML is installed)."""
    import importlib.util
    import tomllib

    has_yaml = importlib.util.find_spec("yaml") is not None
    seen = set()
    for slug in ["tools", *pages.TOOL_SLUGS]:
        for language in LANGUAGES:
            for lang, code in code_blocks(tool_page(client, slug, language)):
                seen.add(lang)
                if lang == "toml":
                    tomllib.loads(code)
                elif lang == "json":
                    json.loads(code)
                elif lang == "yaml" and has_yaml:
                    import yaml

                    assert isinstance(yaml.safe_load(code), dict), (slug, code)
    assert {"toml", "json", "yaml", "sh", "powershell"} <= seen


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_tools_page_links_every_tool_page_and_names_the_others(client, language):
    tools = tool_page(client, "tools", language)
    for slug in pages.TOOL_SLUGS:
        assert f'href="/docs/{slug}/"' in tools, slug
    for tool in ("GitHub Copilot", "Trae", "Codeium / Windsurf", "Tabnine"):
        assert f"<td>{tool}</td>" in tools, tool
    assert "32,000" in tools and "8,000" in tools


@pytest.mark.parametrize("language", ["en", "zh-hans", "zh-hant"])
def test_the_models_page_lists_which_provider_features_pass_and_how_they_are_priced(
    client, language
):
    body = client.get(
        reverse("docs:page", args=["models"]), HTTP_ACCEPT_LANGUAGE=language
    ).content.decode()
    for needle in (
        "x-opencodex-held-context",
        "x-opencodex-ignored",
        "context-1m-",
        "service_tier",
        "<code>priority</code>",
        "local_shell",
        "mcp_servers",
        "budget_tokens",
    ):
        assert needle in body, (language, needle)
