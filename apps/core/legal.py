"""The Support, Terms and Privacy pages. Terms and Privacy are Markdown an operator replaces:
``LEGAL_DIR/terms.md`` and ``LEGAL_DIR/privacy.md`` (or ``terms.zh-hans.md`` ... for one
language), else the placeholders in ``apps/core/legal/``. ``{operator}``, ``{support_email}``
and ``{site_url}`` in them are replaced by the settings of the same meaning."""

from pathlib import Path

import markdown
from django.conf import settings
from django.utils.safestring import mark_safe

BUILT_IN = Path(__file__).resolve().parent / "legal"
DOCUMENTS = ("terms", "privacy")


def legal_source(name: str, language: str) -> Path:
    folders = [Path(settings.LEGAL_DIR)] if settings.LEGAL_DIR else []
    for folder in [*folders, BUILT_IN]:
        fallback = ["zh-hans"] if language.startswith("zh") and language != "zh-hans" else []
        names = [f"{name}.{code}.md" for code in [language, *fallback]] + [f"{name}.md"]
        for candidate in names:
            path = folder / candidate
            if path.is_file():
                return path
    return BUILT_IN / f"{name}.en.md"


def legal_html(name: str, language: str) -> str:
    if name not in DOCUMENTS:
        raise ValueError(name)
    text = legal_source(name, language).read_text(encoding="utf-8")
    for key, value in {
        "{operator}": settings.SITE_OPERATOR,
        "{support_email}": settings.SUPPORT_EMAIL,
        "{site_url}": settings.SITE_URL,
    }.items():
        text = text.replace(key, value)
    # An operator's own file, trusted like the templates.
    return mark_safe(markdown.markdown(text, extensions=["tables", "sane_lists"]))  # noqa: S308
