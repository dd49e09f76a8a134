"""The staff console: read-only figures for staff (wrapped by ``admin.site.admin_view`` in
urls.py, so the admin's login, with allauth's two-factor step, and its is_staff check apply)."""

from django.http import Http404
from django.shortcuts import render
from django.utils import timezone

from apps.core.csv_export import csv_download

from . import selectors

MONEY = ("requests", "revenue", "upstream_cost", "margin", "unknown")


def _chart(rows: list[dict], label: str, fmt: str) -> dict:
    return {
        "labels": [row[label].strftime(fmt) for row in rows],
        "revenue": [row["revenue"] for row in rows],
        "upstream_cost": [row["upstream_cost"] for row in rows],
        "margin": [row["margin"] for row in rows],
    }


def console(request):
    now = timezone.now()
    days = selectors.Period.last_days(30, now)
    hours = selectors.Period.last_hours(48, now)
    by_day = selectors.margin_by_day(days)
    by_hour = selectors.margin_by_hour(hours)
    by_deployment = selectors.margin_by_deployment(days)
    health, health_span = selectors.upstream_health()
    context = {
        "days": days,
        "hours": hours,
        "by_day": by_day,
        "by_hour": by_hour,
        "day_total": selectors.totals(by_day),
        "hour_total": selectors.totals(by_hour),
        "by_model": selectors.margin_by_model(days),
        "by_deployment": by_deployment,
        "by_provider": selectors.margin_by_provider(by_deployment),
        "by_customer": selectors.margin_by_customer(days),
        "cash_in": selectors.cash_in(days),
        "outstanding": selectors.credits_outstanding(),
        "activity": selectors.accounts_activity(now),
        "health": health,
        "health_span": health_span,
        "chart": {
            "day": _chart(by_day, "day", "%m-%d"),
            "hour": _chart(by_hour, "hour", "%d %Hh"),
        },
        "exports": EXPORTS,
        "title": "Staff console",
    }
    return render(request, "staff/console.html", context)


def _rows(kind: str):
    days = selectors.Period.last_days(30)
    if kind == "day":
        return ["day", *MONEY], (
            [r["day"].date().isoformat(), *(r[m] for m in MONEY)]
            for r in selectors.margin_by_day(days)
        )
    if kind == "hour":
        return ["hour", *MONEY], (
            [r["hour"].isoformat(), *(r[m] for m in MONEY)]
            for r in selectors.margin_by_hour(selectors.Period.last_hours(48))
        )
    if kind == "model":
        return ["model", *MONEY], (
            [r["model"], *(r[m] for m in MONEY)] for r in selectors.margin_by_model(days)
        )
    if kind == "deployment":
        return ["provider", "deployment", "model", "errors", *MONEY], (
            [r["provider"], r["deployment"], r["model"], r["errors"], *(r[m] for m in MONEY)]
            for r in selectors.margin_by_deployment(days)
        )
    if kind == "customer":
        return ["user_id", "email", *MONEY], (
            [r["user_id"], r["user__email"], *(r[m] for m in MONEY)]
            for r in selectors.margin_by_customer(days)
        )
    if kind == "payments":
        columns = [
            "payment_method",
            "currency",
            "payments",
            "amount_cents",
            "refunded_cents",
            "net_cents",
            "credits",
            "credits_refunded",
            "disputed",
        ]
        return columns, ([r[c] for c in columns] for r in selectors.cash_in(days))
    raise Http404("no such export")


EXPORTS = ("day", "hour", "model", "deployment", "customer", "payments")


def export_csv(request, kind: str):
    """One table of the console as CSV (money in µcr: 1 credit = 1,000,000)."""
    header, rows = _rows(kind)
    return csv_download(f"opencodex-staff-{kind}.csv", header, rows)
