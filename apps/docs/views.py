from django.conf import settings
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

from apps.catalog.pricing import price_per_million_dollars
from apps.catalog.selectors import catalog_routes

from . import pages


def base_url() -> str:
    return f"{settings.SITE_URL}/api/v1"


DOCS_LANGUAGES = ("en", "zh-hans", "zh-hant")


def docs_language(language: str | None) -> str:
    """The docs' language for the site's: its own pages, else Simplified Chinese for another
    Chinese, else English."""
    language = (language or "").lower()
    if language in DOCS_LANGUAGES:
        return language
    return "zh-hans" if language.startswith("zh") else "en"


def docs_index(request):
    return redirect("docs:page", slug="overview")


def docs_page(request, slug: str):
    if slug not in pages.SLUGS:
        raise Http404("No such page.")
    language = docs_language(get_language())
    page = pages.render(language, slug, base_url())
    body = page.html
    if "{{ MODELS_TABLE }}" in body:
        table = render(request, "docs/models_table.html", {"models": _models()}).content.decode()
        body = body.replace("<p>{{ MODELS_TABLE }}</p>", table)
    groups = pages.page_groups()
    nav = [
        {
            "slug": s,
            "title": title,
            "headings": " ".join(h[2] for h in pages.render(language, s, base_url()).toc),
            "group": groups[s],
        }
        for s, title in pages.PAGES
    ]
    context = {"page": page, "body": mark_safe(body), "nav": nav, "base_url": base_url()}  # noqa: S308
    return render(request, "docs/page.html", context)


def _models() -> list[dict]:
    """The catalog as the docs' model table shows it: prices per 1M tokens in credits and US$;
    a cache-write price only where it differs from input, a price per request only where set."""
    rows = []
    for r in sorted(catalog_routes().values(), key=lambda r: (r.family, r.public_id)):
        writes = r.write_price != r.input_price
        rows.append(
            {
                "id": r.public_id,
                "provider": r.provider,
                "family": r.family,
                "context": r.context_length,
                "max_output": r.max_output,
                "input_credits": r.input_price,
                "input_usd": price_per_million_dollars(r.input_price),
                "output_credits": r.output_price,
                "output_usd": price_per_million_dollars(r.output_price),
                "cached_credits": r.cached_price,
                "cached_usd": price_per_million_dollars(r.cached_price),
                "write_credits": r.write_price if writes else "",
                "write_usd": price_per_million_dollars(r.write_price) if writes else "",
                # µcr (the |credits filter) and US$ (the |usd filter); per request likewise.
                "request_credits": r.request_price if r.request_price else "",
                "request_usd": price_per_million_dollars(r.request_price)
                if r.request_price
                else "",
            }
        )
    return rows
