"""The API documentation: Markdown files rendered once per process, with the live parts (base
URL, model table) filled in from settings and the catalog."""

import html
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import markdown
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from markdown.extensions.toc import slugify_unicode
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

CONTENT = Path(__file__).resolve().parent / "content"
PAGES = [
    ("overview", _("Overview")),
    ("quickstart", _("Quick Start")),
    ("examples", _("Code Examples")),
    ("chat-completions", _("Chat Completions")),
    ("streaming", _("Streaming")),
    ("models", _("Models")),
    ("routing", _("Routing")),
    ("balance", _("Balance")),
    ("keys", _("API Keys")),
    ("organizations", _("Organizations")),
    ("webhooks", _("Webhooks")),
    ("errors", _("Error Codes")),
    ("best-practices", _("Best Practices")),
    ("sdks", _("SDK Examples")),
    ("operators", _("Operating OpenCodex")),
    ("tools", _("Compatible Tools")),
    # One page per coding tool; Claude Code and Codex CLI are the ones the test suite runs.
    ("claude-code", _("Claude Code")),
    ("codex", _("Codex CLI")),
    ("cline", _("Cline")),
    ("continue", _("Continue")),
    ("opencode", _("opencode")),
    ("qwen-code", _("Qwen Code")),
    ("aider", _("aider")),
    ("cursor", _("Cursor")),
]
SLUGS = [slug for slug, _ in PAGES]
# The sidebar's groups: a page belongs to the group of the nearest group start at or above it.
GROUP_STARTS = {
    "overview": _("Get started"),
    "chat-completions": _("API reference"),
    "best-practices": _("Guides"),
    "tools": _("Coding tools"),
}


def page_groups() -> dict[str, str]:
    """Each page's group label, in PAGES order."""
    groups, current = {}, ""
    for slug, _title in PAGES:
        current = GROUP_STARTS.get(slug, current)
        groups[slug] = current
    return groups


TOOL_SLUGS = SLUGS[SLUGS.index("claude-code") :]
LABELS = {
    "python": "Python",
    "javascript": "JavaScript",
    "bash": "cURL",
    "powershell": "PowerShell",
    "json": "JSON",
    "sh": "Shell",
    "toml": "TOML",
    "yaml": "YAML",
    "text": "",
}
CODE = re.compile(r'<pre><code class="language-([\w-]+)">(.*?)</code></pre>', re.S)
FORMATTER = HtmlFormatter(nowrap=True)
H1 = re.compile(r"<h1[^>]*>(.*?)(?:<a class=\"headerlink\"|</h1>)", re.S)
TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Page:
    slug: str
    title: str
    html: str
    toc: list  # [(level, id, text)]


def _code_block(match: re.Match) -> str:
    lang, source = match.group(1), html.unescape(match.group(2))
    try:
        lexer = get_lexer_by_name(lang)
    except ClassNotFound:
        lexer = get_lexer_by_name("text")
    body = highlight(source, lexer, FORMATTER)
    label = LABELS.get(lang, lang)
    copy, copied, aria = gettext("Copy"), gettext("Copied!"), gettext("Copy code")
    return (
        f'<div class="code" data-lang="{lang}" data-label="{label}">'
        f'<button type="button" class="copy-code" aria-label="{aria}"'
        f' data-copy-label="{copy}" data-copied-label="{copied}">{copy}</button>'
        f'<pre><code class="language-{lang}">{body}</code></pre></div>'
    )


def _flatten(tokens, out):
    for token in tokens:
        out.append((token["level"], token["id"], html.unescape(token["name"])))
        _flatten(token["children"], out)
    return out


def source_path(language: str, slug: str) -> Path:
    path = CONTENT / language / f"{slug}.md"
    return path if path.exists() else CONTENT / "en" / f"{slug}.md"


@lru_cache(maxsize=128)
def render(language: str, slug: str, base_url: str) -> Page:
    text = source_path(language, slug).read_text(encoding="utf-8")
    # Claude Code wants the URL without /v1 (it adds /v1/messages itself): the site's /api.
    text = text.replace("{{ ANTHROPIC_BASE_URL }}", base_url.removesuffix("/v1"))
    text = text.replace("{{ BASE_URL }}", base_url).replace("{{ BARE_URL }}", bare(base_url))
    md = markdown.Markdown(
        extensions=["tables", "fenced_code", "toc", "md_in_html", "attr_list"],
        extension_configs={
            "toc": {
                "permalink": "#",
                "permalink_title": "Link to this section",
                "toc_depth": "2-3",
                "slugify": slugify_unicode,  # Chinese headings keep readable anchors
            }
        },
    )
    with translation.override(language):  # the copy buttons' labels
        body = CODE.sub(_code_block, md.convert(text))
    # The table of contents holds the h2 and h3 headings (toc_depth), not the page's h1: that
    # is the title.
    headings = [h for h in _flatten(md.toc_tokens, []) if h[0] in (2, 3)]
    h1 = H1.search(body)
    title = html.unescape(TAG.sub("", h1.group(1))) if h1 else slug
    return Page(slug=slug, title=title, html=body, toc=headings)


def bare(base_url: str) -> str:
    return base_url.removesuffix("/api/v1") + "/v1"


def pygments_css() -> str:
    return HtmlFormatter(style="monokai").get_style_defs(".code pre")
