import contextlib
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from .models import Account, Hold, LedgerEntry, SpendCap, month_of


def account_for_user(*, user_id: int) -> Account | None:
    return Account.objects.filter(user_id=user_id).first()


def account_standing(account: Account | None, *, now) -> dict:
    """Why requests may be refused though the balance is fine, as the pages should say it:
    ``suspended``, ``budget_reached`` (this UTC month's budget is used up, or a request was
    refused for it since it was last set), with the budget and the month's spending."""
    if account is None:
        return {"suspended": False, "budget_reached": False, "budget": None, "month_spent": 0}
    month = month_of(now)
    spent = account.spent_in(month)
    budget = account.monthly_budget
    reached = budget is not None and (
        spent + account.held >= budget or account.budget_reached_month == month
    )
    return {
        "suspended": account.suspended,
        "budget_reached": reached,
        "budget": budget,
        "month_spent": spent,
    }


def expired_hold_references(*, now, limit: int = 500) -> list[str]:
    return list(
        Hold.objects.filter(status=Hold.Status.ACTIVE, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("reference", flat=True)[:limit]
    )


def overrun_holds(*, limit: int = 500) -> list[Hold]:
    """Settled requests that cost more than their hold (the estimate fell short), newest first."""
    return list(
        Hold.objects.filter(status=Hold.Status.SETTLED, charged__gt=F("amount"))
        .select_related("account__user")
        .order_by("-closed_at", "-id")[:limit]
    )


def ledger_recent(*, account_id: int, limit: int = 10) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(account_id=account_id).order_by("-id")[:limit])


# Charges already taken from balances but not yet written to the ledger (``credits_settle(...,
# posted_later=True)``): each source returns {account id: µcr pending}. apps.usage registers
# the requests its rollup has not posted yet.
PENDING_SOURCES: list = []


def pending_charges() -> dict[int, int]:
    pending: dict[int, int] = {}
    for source in PENDING_SOURCES:
        for account_id, amount in source().items():
            pending[account_id] = pending.get(account_id, 0) + amount
    return pending


@contextlib.contextmanager
def one_snapshot():
    """Reads that see one moment of the database (REPEATABLE READ on PostgreSQL), so balances
    and the rows they must equal are compared as of the same instant under live traffic."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield  # SQLite reads in a transaction see one snapshot; tests run inside one already
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


@dataclass(frozen=True)
class LedgerProblem:
    account_id: int
    email: str
    balance: int
    ledger_sum: int
    held: int
    active_holds: int
    pending: int = 0

    def describe(self) -> str:
        issues = []
        if self.balance != self.ledger_sum - self.pending:
            issues.append(
                f"balance {self.balance} µcr != ledger sum {self.ledger_sum} µcr"
                + (f" - pending charges {self.pending} µcr" if self.pending else "")
            )
        if self.held < 0:
            issues.append(f"held {self.held} µcr is negative")
        if self.held != self.active_holds:
            issues.append(f"held {self.held} µcr != active holds {self.active_holds} µcr")
        return f"account {self.account_id} ({self.email}): " + "; ".join(issues)


def ledger_problems() -> list[LedgerProblem]:
    """Every account whose cached balance or held amount disagrees with its rows: balance =
    ledger sum - charges pending posting; held = active holds. Read in one snapshot."""
    ledger_sum = Coalesce(
        Subquery(
            LedgerEntry.objects.filter(account_id=OuterRef("pk"))
            .order_by()
            .values("account_id")
            .annotate(total=Sum("amount"))
            .values("total")
        ),
        Value(0),
    )
    active_holds = Coalesce(
        Subquery(
            Hold.objects.filter(account_id=OuterRef("pk"), status=Hold.Status.ACTIVE)
            .order_by()
            .values("account_id")
            .annotate(total=Sum("amount"))
            .values("total")
        ),
        Value(0),
    )
    with one_snapshot():
        pending = pending_charges()
        rows = (
            Account.objects.annotate(ledger_sum=ledger_sum, active_holds=active_holds)
            .filter(
                ~Q(balance=F("ledger_sum"))
                | Q(held__lt=0)
                | ~Q(held=F("active_holds"))
                | Q(pk__in=list(pending))
            )
            .values("pk", "user__email", "balance", "ledger_sum", "held", "active_holds")
            .order_by("pk")
        )
        problems = [
            LedgerProblem(
                account_id=r["pk"],
                email=r["user__email"],
                balance=r["balance"],
                ledger_sum=r["ledger_sum"],
                held=r["held"],
                active_holds=r["active_holds"],
                pending=pending.get(r["pk"], 0),
            )
            for r in rows
        ]
    return [
        p
        for p in problems
        if p.balance != p.ledger_sum - p.pending or p.held < 0 or p.held != p.active_holds
    ]


def spend_cap_problems() -> list[str]:
    """Every spend cap whose ``held`` disagrees with its active holds (or is negative), read in
    one snapshot, each described."""
    active_holds = Coalesce(
        Subquery(
            Hold.objects.filter(spend_cap_id=OuterRef("pk"), status=Hold.Status.ACTIVE)
            .order_by()
            .values("spend_cap_id")
            .annotate(total=Sum("amount"))
            .values("total")
        ),
        Value(0),
    )
    with one_snapshot():
        rows = list(
            SpendCap.objects.annotate(active_holds=active_holds)
            .filter(Q(held__lt=0) | ~Q(held=F("active_holds")))
            .values("pk", "account_id", "held", "active_holds")
            .order_by("pk")
        )
    return [
        f"spend cap {r['pk']} (account {r['account_id']}): held {r['held']} µcr != active holds "
        f"{r['active_holds']} µcr"
        for r in rows
    ]
