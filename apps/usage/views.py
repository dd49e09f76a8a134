from datetime import datetime

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from apps.catalog.selectors import catalog_routes
from apps.core.csv_export import csv_download
from apps.core.money import format_credits, micro_to_credits
from apps.core.roles import acting_user, require_role
from apps.core.timezones import user_time_zone

from . import selectors
from .forms import LogFilterForm, UsageFilterForm
from .selectors import deployment_shown


def _partial(request) -> bool:
    """An htmx swap wants the fragment; a history restore (back button after the cache was
    emptied) and a plain visit want the whole page."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def _filters(request) -> UsageFilterForm:
    models = selectors.used_models(user_id=acting_user(request).pk)
    return UsageFilterForm(request.GET or None, user=acting_user(request), models=models)


def _model_cell(model: str) -> str:
    return model or _("(no model)")


@login_required
@require_role("usage", otherwise="orgs:usage")
def usage_index(request):
    form = _filters(request)
    query = form.query()
    report = selectors.usage_report(user_id=acting_user(request).pk, q=query, used=form.used)
    chart = {
        "labels": report["labels"],
        # A group that cost nothing (or produced no tokens) has no bar to show: no legend entry.
        "cost": {
            name: [float(micro_to_credits(v)) for v in s["cost"]]
            for name, s in report["series"].items()
            if any(s["cost"])
        },
        "tokens": {name: s["tokens"] for name, s in report["series"].items() if any(s["tokens"])},
        # Tokens in and out of every group together: what the tokens chart stacks.
        "token_split": {
            _("Input"): report["input_tokens"],
            _("Output"): report["output_tokens"],
        },
        "requests": report["requests"],
        "error_rate": [
            round(100 * e / r, 2) if r else 0
            for e, r in zip(report["errors"], report["requests"], strict=True)
        ],
    }
    context = {
        "form": form,
        "query": query,
        "report": report,
        "chart": chart,
        "export_query": request.GET.urlencode(),
    }
    template = "usage/partials/report.html" if _partial(request) else "usage/index.html"
    return render(request, template, context)


def _cursor(value: str):
    try:
        at, pk = value.rsplit("_", 1)
        return datetime.fromisoformat(at), int(pk)
    except ValueError:
        return None


def _log_labels() -> dict:
    return {
        "time": _("Time"),
        "model": _("Model"),
        "status": _("Status"),
        "credits": _("Credits"),
        "key": _("Key"),
        "provider": _("Provider"),
        "tokens": _("Tokens in / out"),
        "latency": _("Latency"),
        "request_id": _("Request id"),
        "copy": _("Copy"),
        "copied": _("Copied"),
        "copy_id": _("Copy the request id"),
        "split_in": _("in"),
        "split_cached": _("cached"),
        "split_cache_write": _("cache write"),
        "split_out": _("out"),
        "split_reasoning": _("reasoning"),
        "split_per_request": _("per request"),
        "approximate": _("Split at the current prices, scaled to what was charged"),
    }


def _log_form(request) -> LogFilterForm:
    account = acting_user(request)
    models = selectors.used_models(user_id=account.pk)
    return LogFilterForm(request.GET or None, user=account, models=models)


@login_required
@require_role("usage")
def request_log(request):
    form = _log_form(request)
    form.is_valid()
    cursor = _cursor(request.GET.get("cursor", "")) if request.GET.get("cursor") else None
    page, next_cursor = selectors.request_log(
        user_id=acting_user(request).pk, filters=form.log_filter(), cursor=cursor
    )
    routes = catalog_routes({r.model for r in page}) if page else {}
    rows = [
        {
            "r": r,
            "split": selectors.cost_split(r, routes.get(r.model)),
            "served": deployment_shown(r.deployment),
        }
        for r in page
    ]
    params = form.data.copy() if form.is_bound else request.GET.copy()
    params.pop("cursor", None)
    filters_query = params.urlencode()
    if next_cursor:
        params["cursor"] = f"{next_cursor[0].isoformat()}_{next_cursor[1]}"
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "custom": form.data.get("range") == "custom",
        "searched": request.GET.get("id", "")[:64],
        "filters_query": filters_query,
        "next_query": params.urlencode() if next_cursor else "",
        "bad_cursor": bool(request.GET.get("cursor")) and cursor is None,
        # Translated and reversed once, not once a row.
        "labels": _log_labels(),
        "detail_url": reverse("console:request_detail", args=["-"])[:-2],
    }
    if _partial(request):
        # "Older requests" appends rows; a filter change replaces the table and its links.
        more = request.htmx.target == "log-more"
        template = "usage/partials/log_rows.html" if more else "usage/partials/log_table.html"
    else:
        template = "usage/log.html"
    return render(request, template, context)


@login_required
@require_role("usage")
def export_requests(request):
    """The request log as CSV, with the log's filters (the usage page's link: its range)."""
    form = _log_form(request)
    records = selectors.records_for_export(
        user_id=acting_user(request).pk, start=None, end=None, filters=form.log_filter()
    )
    tz = user_time_zone(acting_user(request))
    rows = (
        (
            at.astimezone(tz).isoformat(),
            rid,
            key or "",
            _model_cell(model),
            pt,
            ct,
            format_credits(cost),
            *rest[:-1],
            deployment_shown(rest[-1])["provider"],
        )
        for at, rid, key, model, pt, ct, cost, *rest in records
    )
    header = [
        f"time ({tz.key})",
        "request_id",
        "key",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "credits",
        "status",
        "error",
        "latency_ms",
        "stream",
        "cached_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "protocol",
        "provider",
    ]
    return csv_download("opencodex-requests.csv", header, rows)


@login_required
@require_role("usage")
def export_hours(request):
    query = _filters(request).query()
    labels = selectors.key_labels(user_id=acting_user(request).pk)
    hours = selectors.hours_for_export(
        user_id=acting_user(request).pk, start=query.start, end=query.end
    )
    tz = user_time_zone(acting_user(request))
    rows = (
        (
            hour.astimezone(tz).isoformat(),
            labels.get(key_id, ""),
            _model_cell(model),
            n,
            errors,
            pt,
            ct,
            format_credits(cost),
            cached,
            written,
        )
        for hour, key_id, model, n, errors, pt, ct, cost, cached, written in hours
    )
    header = [
        f"hour ({tz.key})",
        "key",
        "model",
        "requests",
        "errors",
        "prompt_tokens",
        "completion_tokens",
        "credits",
        "cached_tokens",
        "cache_write_tokens",
    ]
    return csv_download("opencodex-usage-hourly.csv", header, rows)
