"""Every write to money goes through here.

Rules (DESIGN.md "Money"): amounts are integer µcr; every change to ``Account.balance`` writes a
``LedgerEntry`` with a unique reference in the same transaction, so retrying an operation with the
same reference never applies it twice; ``Account.held`` is the sum of active ``Hold`` rows and a
hold is only taken when ``balance - held`` covers it, in one conditional UPDATE.
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from apps.audit import services as audit
from apps.core.money import MICRO

from .contention import classified
from .errors import (
    AccountSuspended,
    BudgetReached,
    InsufficientCredits,
    InvalidAmount,
    MemberCapReached,
)
from .models import Account, Hold, LedgerEntry, SpendCap, month_of

Kind = LedgerEntry.Kind


@classified
def account_ensure(*, user_id: int) -> Account:
    """The user's credit account, created (empty) if it does not exist yet."""
    account = Account.objects.filter(user_id=user_id).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return Account.objects.create(user_id=user_id)
    except IntegrityError:  # created concurrently
        return Account.objects.get(user_id=user_id)


def _ledger_post(
    *,
    account_id: int,
    amount: int,
    kind: str,
    reference: str,
    memo: str = "",
    created_by_id: int | None = None,
    may_go_negative: bool = False,
) -> LedgerEntry | None:
    """Append one entry and move the balance by ``amount``. Returns ``None`` when an entry with
    this reference exists already (the operation was applied before)."""
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise InvalidAmount("Amounts are integer micro-credits.")
    if amount == 0:
        raise InvalidAmount("The amount must not be zero.")
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account_id)
        if LedgerEntry.objects.filter(reference=reference).exists():
            return None
        if amount < 0 and not may_go_negative and account.balance - account.held + amount < 0:
            raise InsufficientCredits(needed=-amount, available=account.balance - account.held)
        try:
            with transaction.atomic():
                entry = LedgerEntry.objects.create(
                    account_id=account_id,
                    amount=amount,
                    balance_after=account.balance + amount,
                    kind=kind,
                    reference=reference,
                    memo=memo[:500],
                    created_by_id=created_by_id,
                )
        except IntegrityError:  # the same reference posted concurrently on another account
            return None
        Account.objects.filter(pk=account_id).update(
            balance=F("balance") + amount, updated_at=timezone.now()
        )
        return entry


@classified
def credits_grant(
    *, user_id: int, amount: int, kind: str, reference: str, memo: str = ""
) -> LedgerEntry | None:
    """Add credits (signup grant, top-up...). Idempotent per ``reference``."""
    if amount <= 0:
        raise InvalidAmount("A grant must be positive.")
    account = account_ensure(user_id=user_id)
    return _ledger_post(
        account_id=account.pk, amount=amount, kind=kind, reference=reference, memo=memo
    )


def address_fingerprint(email: str) -> str:
    """A keyed hash of an e-mail address as a mailbox: lower-cased, without a +tag, and for
    Gmail without dots (the same inbox). It survives the account's deletion (the address itself
    is erased) and says nothing about the address without the server's key."""
    from django.utils.crypto import salted_hmac

    local, _, domain = (email or "").strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        local, domain = local.replace(".", ""), "gmail.com"
    return salted_hmac(
        "opencodex.signup-grant", f"{local}@{domain}", algorithm="sha256"
    ).hexdigest()


@classified
def credits_grant_signup(*, user_id: int, email: str | None = None) -> LedgerEntry | None:
    """The free credits for a new user: once per user and once per mailbox, ever (a deleted
    account's address signing up again gets none). ``email`` is the verified address (default:
    the user's)."""
    from django.contrib.auth import get_user_model

    if email is None:
        email = get_user_model().objects.filter(pk=user_id).values_list("email", flat=True).first()
    account = account_ensure(user_id=user_id)
    with transaction.atomic():
        Account.objects.select_for_update().filter(pk=account.pk).first()  # one grant at a time
        if LedgerEntry.objects.filter(account_id=account.pk, kind=Kind.SIGNUP_GRANT).exists():
            return None  # this user had theirs (by an earlier address, or before this rule)
        return _ledger_post(
            account_id=account.pk,
            amount=settings.SIGNUP_GRANT_CREDITS * MICRO,
            kind=Kind.SIGNUP_GRANT,
            reference=f"signup:{address_fingerprint(email or f'user-{user_id}')}",
            memo="Welcome credits",
        )


@classified
def credits_take_back(
    *, user_id: int, amount: int, kind: str, reference: str, memo: str = ""
) -> LedgerEntry | None:
    """Remove credits money has gone back for (a refund, a dispute). The only way a balance may
    go below zero. Idempotent per ``reference``."""
    if amount <= 0:
        raise InvalidAmount("The amount to take back must be positive.")
    account = account_ensure(user_id=user_id)
    return _ledger_post(
        account_id=account.pk,
        amount=-amount,
        kind=kind,
        reference=reference,
        memo=memo,
        may_go_negative=True,
    )


@classified
def credits_account_suspend(
    *, user_id: int, suspended: bool, actor=None, ip: str | None = None
) -> None:
    """Refuse (or allow again) every API request of the account (``actor``: staff, or None
    for the system, e.g. a payment dispute)."""
    account = account_ensure(user_id=user_id)
    with transaction.atomic():
        changed = (
            Account.objects.filter(pk=account.pk)
            .exclude(suspended=suspended)
            .update(suspended=suspended, updated_at=timezone.now())
        )
        if changed:
            audit.record(
                account_id=user_id,
                actor=actor,
                action="account.suspended" if suspended else "account.resumed",
                before={"suspended": not suspended},
                after={"suspended": suspended},
                ip=ip,
            )


@classified
def credits_adjust(
    *,
    user_id: int,
    amount: int,
    reason: str,
    actor_id: int | None,
    reference: str | None = None,
    ip: str | None = None,
) -> LedgerEntry:
    """A staff correction: positive grants, negative deducts (never below what is held)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidAmount("An adjustment needs a reason.")
    account = account_ensure(user_id=user_id)
    with transaction.atomic():
        entry = _ledger_post(
            account_id=account.pk,
            amount=amount,
            kind=Kind.ADJUSTMENT,
            reference=reference or f"adjustment:{uuid.uuid4()}",
            memo=reason,
            created_by_id=actor_id,
        )
        if entry is None:
            raise InvalidAmount("This adjustment was already applied.")
        audit.record(
            account_id=user_id,
            actor=actor_id,
            action="credits.adjusted",
            target=entry.reference,
            after={"credits": amount, "reason": reason},
            ip=ip,
        )
    return entry


@classified
def credits_hold(
    *,
    account_id: int,
    amount: int,
    reference: str,
    ttl_seconds: int | None = None,
    api_key_id: int | None = None,
    spend_cap_id: int | None = None,
) -> Hold:
    """Reserve ``amount`` µcr for an in-flight request, or raise ``InsufficientCredits`` (its
    ``BudgetReached`` or, with ``spend_cap_id``, ``MemberCapReached``), or ``AccountSuspended``
    while a payment dispute is open.

    The reservation is one conditional UPDATE of the account, then (in the same transaction,
    lock order account, cap) one of the spend cap, so concurrent holds can never together
    exceed ``balance - held``, the monthly budget or the cap's monthly limit.
    """
    if amount <= 0:
        raise InvalidAmount("A hold must be positive.")
    ttl = settings.HOLD_TTL_SECONDS if ttl_seconds is None else ttl_seconds
    now = timezone.now()
    month = month_of(now)
    spent = Case(When(budget_month=month, then=F("month_spent")), default=Value(0))
    with transaction.atomic():
        taken = (
            Account.objects.filter(pk=account_id, balance__gte=F("held") + amount, suspended=False)
            .filter(
                Q(monthly_budget__isnull=True)
                | Q(monthly_budget__gte=spent + F("held") + Value(amount))
            )
            .update(held=F("held") + amount, updated_at=now)
        )
        if not taken:
            account = Account.objects.filter(pk=account_id).first()
            if account and account.suspended:
                raise AccountSuspended()
            refusal_raise(account, amount=amount, month=month, cap=_cap_of(spend_cap_id))
        if spend_cap_id is not None and not spend_cap_reserve(
            cap_id=spend_cap_id, amount=amount, month=month
        ):
            # Raised inside the transaction: the account's reservation above is rolled back.
            account = Account.objects.filter(pk=account_id).first()
            refusal_raise(account, amount=amount, month=month, cap=_cap_of(spend_cap_id))
        return Hold.objects.create(
            account_id=account_id,
            reference=reference,
            amount=amount,
            api_key_id=api_key_id,
            spend_cap_id=spend_cap_id,
            expires_at=now + timedelta(seconds=ttl),
        )


def spend_cap_reserve(*, cap_id: int, amount: int, month) -> bool:
    """Reserve ``amount`` of a cap for a request in flight when this month's spending, what is
    held and ``amount`` fit its monthly limit (a cap without one only counts): one conditional
    UPDATE. Returns whether it was reserved."""
    spent = Case(When(month=month, then=F("month_spent")), default=Value(0))
    return bool(
        SpendCap.objects.filter(pk=cap_id)
        .filter(
            Q(monthly_limit__isnull=True) | Q(monthly_limit__gte=spent + F("held") + Value(amount))
        )
        .update(held=F("held") + amount)
    )


def _cap_of(cap_id: int | None) -> SpendCap | None:
    return None if cap_id is None else SpendCap.objects.filter(pk=cap_id).first()


def cap_left(cap: SpendCap | None, *, month) -> int | None:
    """µcr a spend cap still lets requests hold this month (None: no cap, or no limit)."""
    if cap is None or cap.monthly_limit is None:
        return None
    return cap.monthly_limit - cap.spent_in(month) - cap.held


def budget_left(account: Account, *, month) -> int | None:
    """µcr the monthly budget still lets requests hold (None: no budget)."""
    if account.monthly_budget is None:
        return None
    return account.monthly_budget - account.spent_in(month) - account.held


def refusal_raise(
    account: Account | None, *, amount: int, month, cap: SpendCap | None = None
) -> None:
    """Why a hold of ``amount`` was refused: the balance (InsufficientCredits), the monthly
    budget (BudgetReached) or the spend cap (MemberCapReached); ``available`` is what the
    tightest of them leaves."""
    if account is None:
        raise InsufficientCredits(needed=amount, available=0)
    available = account.balance - account.held
    left = budget_left(account, month=month)
    member = cap_left(cap, month=month)
    tightest = min(v for v in (available, left, member) if v is not None)
    if member is not None and member < amount and member == tightest:
        raise MemberCapReached(needed=amount, available=member, limit=cap.monthly_limit)
    if left is not None and left < amount and left <= available:
        raise BudgetReached(needed=amount, available=left, budget=account.monthly_budget)
    raise InsufficientCredits(needed=amount, available=available)


def credits_budget_reached(*, account_id: int, month) -> None:
    """A request was refused for the monthly budget: the month's 100 % alert is due (the hold
    rule refuses just before the budget, so spending alone may never show 100 %)."""
    Account.objects.filter(pk=account_id).exclude(budget_reached_month=month).update(
        budget_reached_month=month
    )


@classified
def credits_budget_set(
    *, user_id: int, budget: int | None, actor=None, ip: str | None = None
) -> Account:
    """Set (or, with None, remove) the account's monthly budget in µcr. Raising it lets
    requests through again at once; the month's spending so far stays counted."""
    if budget is not None and (
        not isinstance(budget, int) or isinstance(budget, bool) or budget < 0
    ):
        raise InvalidAmount("A monthly budget is a number of credits, 0 or more.")
    account = account_ensure(user_id=user_id)
    with transaction.atomic():
        old = Account.objects.select_for_update().get(pk=account.pk).monthly_budget
        # A new budget starts unreached: a refusal under the old one says nothing about it.
        Account.objects.filter(pk=account.pk).exclude(monthly_budget=budget).update(
            budget_reached_month=None
        )
        Account.objects.filter(pk=account.pk).update(
            monthly_budget=budget, updated_at=timezone.now()
        )
        if old != budget:
            audit.record(
                account_id=user_id,
                actor=actor,
                action="budget.changed",
                before={"monthly_budget": old},
                after={"monthly_budget": budget},
                ip=ip,
            )
    account.refresh_from_db()
    return account


@dataclass(frozen=True)
class HoldClosed:
    """What closing a hold did. ``closed`` is False when it was closed before (a repeat)."""

    charged: int
    closed: bool
    amount: int
    account_id: int
    api_key_id: int | None
    spend_cap_id: int | None = None


def _hold_close(
    *, reference: str, charge: int, status: str, memo: str = "", posted_later: bool = False
) -> HoldClosed:
    if charge < 0:
        raise InvalidAmount("A charge cannot be negative.")
    with transaction.atomic():
        hold = Hold.objects.select_for_update().filter(reference=reference).first()
        if hold is None:
            raise Hold.DoesNotExist(f"No hold {reference!r}")
        late = (
            hold.status == Hold.Status.EXPIRED
            and hold.charged == 0
            and status == Hold.Status.SETTLED
            and charge > 0
        )
        if hold.status != Hold.Status.ACTIVE and not late:  # closed before: nothing to do twice
            return HoldClosed(
                hold.charged, False, hold.amount, hold.account_id, hold.api_key_id,
                hold.spend_cap_id,
            )  # fmt: skip
        # The real cost, also beyond the reservation: what the provider bills is charged, and an
        # overrun takes the balance below zero (new holds are then refused until a top-up).
        charged = charge
        account = Account.objects.select_for_update().get(pk=hold.account_id)
        now = timezone.now()
        if charged and not posted_later:
            LedgerEntry.objects.create(
                account_id=account.pk,
                amount=-charged,
                balance_after=account.balance - charged,
                kind=Kind.USAGE,
                reference=f"usage:{reference}",
                memo=memo[:500],
            )
        # A late settlement (the hold expired, its reservation given back) only charges.
        reserved = 0 if late else hold.amount
        month = month_of(now)
        Account.objects.filter(pk=account.pk).update(
            balance=F("balance") - charged,
            held=F("held") - reserved,
            # The month's spending, for the monthly budget (a new month starts from this charge).
            month_spent=Case(
                When(budget_month=month, then=F("month_spent") + charged),
                default=Value(charged),
            ),
            budget_month=month,
            updated_at=now,
        )
        if hold.spend_cap_id is not None:  # the cap after the account (the order holds lock)
            SpendCap.objects.filter(pk=hold.spend_cap_id).update(
                held=F("held") - reserved,
                month_spent=Case(
                    When(month=month, then=F("month_spent") + charged), default=Value(charged)
                ),
                month=month,
            )
        Hold.objects.filter(pk=hold.pk).update(status=status, charged=charged, closed_at=now)
        return HoldClosed(
            charged, True, reserved, hold.account_id, hold.api_key_id, hold.spend_cap_id
        )


@classified
def credits_settle(
    *, reference: str, amount: int, memo: str = "", posted_later: bool = False
) -> HoldClosed:
    """Charge the real cost of a held request and release its hold, at once. The cost is charged
    in full even when it exceeds the hold (an overrun: the balance may go below zero), and also
    when the settlement arrives after the hold expired (the expiry charged nothing).

    ``posted_later``: the caller writes, in this transaction, a record of the charge that a
    registered pending source (``apps.credits.selectors.PENDING_SOURCES``) counts until it is
    posted to the ledger with others (``credits_post_pending``): API usage, one ledger entry per
    account per interval instead of one per request.

    Idempotent: settling a closed hold changes nothing and reports what was charged then.
    """
    return _hold_close(
        reference=reference,
        charge=amount,
        status=Hold.Status.SETTLED,
        memo=memo,
        posted_later=posted_later,
    )


@classified
def credits_post_pending(*, entries: list[tuple[int, int, str, str]]) -> int:
    """Write ledger entries for charges already taken from balances (``posted_later``):
    ``(account_id, amount, reference, memo)`` each, the amount negative. The balances do not
    move (they moved at settlement); ``balance_after`` is the account's balance now. Idempotent
    by reference. Call inside the transaction that marks those charges posted."""
    if not entries:
        return 0
    for _, amount, _, _ in entries:
        if not isinstance(amount, int) or isinstance(amount, bool) or amount >= 0:
            raise InvalidAmount("Posted charges are negative integer micro-credits.")
    balances = dict(
        Account.objects.filter(pk__in={e[0] for e in entries}).values_list("pk", "balance")
    )
    rows = [
        LedgerEntry(
            account_id=account_id,
            amount=amount,
            balance_after=balances[account_id],
            kind=Kind.USAGE,
            reference=reference,
            memo=memo[:500],
        )
        for account_id, amount, reference, memo in entries
    ]
    return len(LedgerEntry.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True))


@classified
def credits_release(*, reference: str) -> HoldClosed:
    """Give a hold back without charging anything (the request failed before any output)."""
    return _hold_close(reference=reference, charge=0, status=Hold.Status.RELEASED)


@classified
def credits_expire_hold(*, reference: str) -> HoldClosed:
    """Give back a hold whose request never settled (a crashed worker), charging nothing."""
    return _hold_close(reference=reference, charge=0, status=Hold.Status.EXPIRED)


def _clean_cap(monthly_limit: int | None, allowed_models) -> tuple[int | None, list[str]]:
    if monthly_limit is not None and (isinstance(monthly_limit, bool) or monthly_limit < 0):
        raise InvalidAmount("A spend cap is a whole number of µcr, zero or more.")
    models = sorted({str(m).strip() for m in (allowed_models or ()) if str(m).strip()})
    return monthly_limit, models


def spend_cap_create(
    *, user_id: int, monthly_limit: int | None = None, allowed_models=()
) -> SpendCap:
    """A cap on the account of ``user_id`` (an organization's principal user) for a group of
    its keys: ``monthly_limit`` µcr per UTC month (None: no cap), ``allowed_models`` (empty:
    all)."""
    monthly_limit, models = _clean_cap(monthly_limit, allowed_models)
    account = account_ensure(user_id=user_id)
    return SpendCap.objects.create(
        account=account, monthly_limit=monthly_limit, allowed_models=models
    )


# Called with a cap's id when its limit or models change: apps.keys registers the one that
# drops the gateway's cached facts of the keys sharing it (on every worker, like revocation).
SPEND_CAP_CHANGED: list = []


def _cap_changed(cap_id: int) -> None:
    for listener in SPEND_CAP_CHANGED:
        listener(cap_id)


def spend_cap_update(*, cap_id: int, monthly_limit: int | None, allowed_models=()) -> SpendCap:
    """New limits for a cap; what was spent this month still counts against the new limit.
    The gateway applies them from the next request (its cached key facts are dropped now and
    again once this commits)."""
    monthly_limit, models = _clean_cap(monthly_limit, allowed_models)
    with transaction.atomic():
        cap = SpendCap.objects.select_for_update().get(pk=cap_id)
        cap.monthly_limit = monthly_limit
        cap.allowed_models = models
        cap.save(update_fields=["monthly_limit", "allowed_models", "updated_at"])
        _cap_changed(cap_id)
        transaction.on_commit(lambda: _cap_changed(cap_id))
    return cap
