"""The API documentation: Markdown files rendered once per process, with the live parts (base
URL, model table) filled in from settings and the catalog."""

import html
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import markdown
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
    ("balance", _("Balance")),
    ("errors", _("Error Codes")),
    ("best-practices", _("Best Practices")),
    ("tools", _("Compatible Tools")),
    ("claude-code", _("Claude Code")),
    ("codex", _("Codex CLI")),
    ("sdks", _("SDK Examples")),
]
SLUGS = [slug for slug, _ in PAGES]
LABELS = {
    "python": "Python",
    "javascript": "JavaScript",
    "bash": "cURL",
    "powershell": "PowerShell",
    "json": "JSON",
    "text": "",
}
CODE = re.compile(r'<pre><code class="language-([\w-]+)">(.*?)</code></pre>', re.S)
FORMATTER = HtmlFormatter(nowrap=True)


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
    return (
        f'<div class="code" data-lang="{lang}" data-label="{label}">'
        '<button type="button" class="copy-code" aria-label="Copy code">Copy</button>'
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
    anthropic = base_url[: -len("/v1")] if base_url.endswith("/v1") else base_url
    text = text.replace("{{ ANTHROPIC_BASE_URL }}", anthropic)
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
    body = CODE.sub(_code_block, md.convert(text))
    tokens = md.toc_tokens
    title = tokens[0]["name"] if tokens else slug
    headings = _flatten(tokens[0]["children"] if tokens else [], [])
    return Page(slug=slug, title=html.unescape(title), html=body, toc=headings)


def bare(base_url: str) -> str:
    return base_url.removesuffix("/api/v1") + "/v1"


def pygments_css() -> str:
    return HtmlFormatter(style="monokai").get_style_defs(".code pre")
