"""Every figure of the staff console reconciles (``manage.py reconcile``).

Revenue. The console's revenue for [since, until) is the sum of ``DeploymentHour.cost`` over
those hours (``check_rollups`` proves ``UsageHour`` and ``UsageDay`` hold the same). It must
equal:

1. the raw records of the window that the rollup has counted (position below its cursor): the
   rollups are exact, also per model;
2. the ledger's ``usage`` postings: each posting (``usage:<start>-<end>:<account>``) is one
   account's charges of one rollup window of positions, so the postings whose windows hold the
   period's records, less the charges of the records in those windows that fall outside the
   period, are the period's revenue; and each posting equals its window's records.

Cash. The console's cash in (payments paid in the window, by method and currency: paid,
refunded and net, credits sold and refunded) equals the payments table summed directly; every
such payment's credits were granted by exactly one ``topup`` ledger entry (``stripe:<checkout
session or payment intent>``) of that amount; and for every account that paid in the window, its
``refund`` ledger entries (``stripe-refund:…``, which name the refund, not the payment) take back
exactly the credits its payments say were refunded.
"""

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Sum

from apps.billing.models import Payment
from apps.credits.models import LedgerEntry
from apps.usage.models import UsageHour, UsageRecord
from apps.usage.rollup import cursor_position, position_field

from . import selectors

WINDOW = re.compile(r"^usage:(\d+)-(\d+):(\d+)$")


@dataclass
class Reconciliation:
    since: datetime
    until: datetime
    figures: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def check(self, name: str, console, source) -> None:
        self.figures[name] = (console, source)
        if console != source:
            self.problems.append(f"{name}: console {console} != {source}")


def _revenue(result: Reconciliation, period: selectors.Period) -> None:
    position = cursor_position()
    field_ = position_field()
    counted = UsageRecord.objects.filter(
        created_at__gte=period.since, created_at__lt=period.until, **{f"{field_}__lt": position}
    )
    console = selectors.totals(selectors.margin_by_day(period))
    raw = counted.aggregate(revenue=Sum("cost", default=0), upstream=Sum("upstream_cost"))
    result.check("revenue (rollups = records)", console["revenue"], raw["revenue"])
    result.check(
        "upstream cost (rollups = records)", console["upstream_cost"], raw["upstream"] or 0
    )
    by_model = {r["model"]: r["revenue"] for r in selectors.margin_by_model(period)}
    raw_models = {
        r["model"]: r["revenue"]
        for r in counted.values("model").annotate(revenue=Sum("cost")).order_by()
    }
    for model in sorted(by_model.keys() | raw_models.keys()):
        console_model, raw_model = by_model.get(model, 0), raw_models.get(model, 0)
        if console_model != raw_model:
            result.problems.append(
                f"revenue of {model!r}: console {console_model} != records {raw_model}"
            )

    # The ledger: the rollup windows that hold the period's charged records.
    charged = counted.filter(cost__gt=0)
    span = charged.order_by().values_list(field_, flat=True)
    low = span.order_by(field_).first()
    high = span.order_by(f"-{field_}").first()
    ledger = 0
    if low is None:
        result.check("revenue (console = ledger postings)", console["revenue"], 0)
        return
    windows: dict[tuple[int, int], int] = {}
    postings = LedgerEntry.objects.filter(
        kind=LedgerEntry.Kind.USAGE, reference__startswith="usage:", created_at__gte=period.since
    ).values_list("reference", "amount")
    for reference, amount in postings.iterator(chunk_size=5000):
        match = WINDOW.match(reference)
        if not match:
            continue
        start, end = int(match.group(1)), int(match.group(2))
        if end > low and start <= high:
            windows[(start, end)] = windows.get((start, end), 0) - amount
    if not windows:
        result.problems.append("no usage postings hold the period's charged records")
        result.check("revenue (console = ledger postings)", console["revenue"], 0)
        return
    ledger = sum(windows.values())
    starts = sorted(windows)
    lo, hi = starts[0][0], max(end for _, end in starts)
    in_span = UsageRecord.objects.filter(**{f"{field_}__gte": lo, f"{field_}__lt": hi}, cost__gt=0)
    # Each window's records equal its postings (a record altered after posting shows here).
    by_window: dict[tuple[int, int], int] = {}
    outside = 0
    rows = in_span.values_list(field_, "cost", "created_at")
    for position_, cost, created_at in rows.iterator(chunk_size=5000):
        index = bisect_right(starts, (position_, float("inf"))) - 1
        window = starts[index] if index >= 0 else None
        if window is None or not (window[0] <= position_ < window[1]):
            result.problems.append(f"a charged record at position {position_} has no posting")
            continue
        by_window[window] = by_window.get(window, 0) + cost
        if not (period.since <= created_at < period.until):
            outside += cost
    for window in starts:
        if by_window.get(window, 0) != windows[window]:
            result.problems.append(
                f"usage postings of window {window[0]}-{window[1]}: ledger {windows[window]} "
                f"!= records {by_window.get(window, 0)}"
            )
    result.check("revenue (console = ledger postings)", console["revenue"], ledger - outside)


def _cash(result: Reconciliation, period: selectors.Period) -> None:
    console = {(r["payment_method"], r["currency"]): r for r in selectors.cash_in(period)}
    paid = Payment.objects.filter(
        status__in=selectors.CASH_STATUSES, paid_at__gte=period.since, paid_at__lt=period.until
    )
    columns = ("amount_cents", "amount_refunded_cents", "credits", "credits_refunded")
    table: dict[tuple[str, str], list[int]] = {}
    references = {}
    payers = set()
    fields = ("user_id", "payment_method", "currency", "checkout_session_id", "payment_intent_id")
    for payment in paid.only(*fields, *columns):
        total = table.setdefault((payment.payment_method, payment.currency), [0] * len(columns))
        for index, name in enumerate(columns):
            total[index] += getattr(payment, name)
        payers.add(payment.user_id)
        for ref in (payment.checkout_session_id, payment.payment_intent_id):
            if ref:
                references[f"stripe:{ref}"] = payment
    for key in sorted(console.keys() | table.keys()):
        row = console.get(key) or {}
        amount, refunded, sold, taken_back = table.get(key, [0] * len(columns))
        where = f"{key[1]} {key[0] or 'card'}"
        result.check(f"cash in {where}", row.get("amount_cents") or 0, amount)
        result.check(f"refunded {where}", row.get("refunded_cents") or 0, refunded)
        result.check(f"net cash in {where}", row.get("net_cents") or 0, amount - refunded)
        result.check(f"credits sold {where}", row.get("credits") or 0, sold)
        result.check(f"credits refunded {where}", row.get("credits_refunded") or 0, taken_back)
    granted: dict[int, int] = {}
    for reference, amount in LedgerEntry.objects.filter(
        kind=LedgerEntry.Kind.TOPUP, reference__in=list(references)
    ).values_list("reference", "amount"):
        payment = references[reference]
        granted[payment.pk] = granted.get(payment.pk, 0) + amount
    for payment in {p.pk: p for p in references.values()}.values():
        if granted.get(payment.pk, 0) != payment.credits:
            result.problems.append(
                f"payment {payment.pk}: {payment.credits} µcr sold, "
                f"{granted.get(payment.pk, 0)} granted by the ledger"
            )
    _refunds(result, payers)
    result.figures["payments"] = (paid.count(), len({p.pk for p in references.values()}))


def _refunds(result: Reconciliation, payers: set[int]) -> None:
    """Per paying account: its refund postings equal its payments' credits refunded (all
    time: a refund posting names the Stripe refund, not the payment, and may come long after
    the payment's window)."""
    refunded = dict(
        Payment.objects.filter(user_id__in=payers, credits_refunded__gt=0)
        .values("user_id")
        .annotate(total=Sum("credits_refunded"))
        .values_list("user_id", "total")
    )
    posted = dict(
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND, account__user_id__in=payers)
        .values("account__user_id")
        .annotate(total=Sum("amount"))
        .values_list("account__user_id", "total")
    )
    for user_id in sorted(refunded.keys() | posted.keys()):
        if refunded.get(user_id, 0) != -posted.get(user_id, 0):
            result.problems.append(
                f"refunds of user {user_id}: payments say {refunded.get(user_id, 0)} µcr, "
                f"the ledger took back {-posted.get(user_id, 0)}"
            )
    result.figures["credits refunded (payments / ledger)"] = (
        sum(refunded.values()),
        -sum(posted.values()),
    )


def reconcile(*, since: datetime, until: datetime) -> Reconciliation:
    """Reconcile the console's figures of [since, until) (widened to whole UTC hours)."""
    period = selectors.Period(selectors.hour_floor(since), selectors.hour_ceil(until))
    result = Reconciliation(period.since, period.until)
    _revenue(result, period)
    _cash(result, period)
    result.figures["rollup hours"] = (
        UsageHour.objects.filter(hour__gte=period.since, hour__lt=period.until).count(),
        None,
    )
    return result
