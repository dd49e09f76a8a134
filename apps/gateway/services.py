"""The gateway's synchronous steps, run in worker threads. Money rules stay in apps.credits and
apps.keys; this only composes them for one request."""

import datetime

from django.db import transaction
from django.utils import timezone

from apps.credits.models import Account, month_of
from apps.credits.services import account_ensure, credits_hold
from apps.keys.models import ApiKey
from apps.keys.selectors import KeyFacts, api_key_facts, api_key_window
from apps.keys.services import api_key_reserve
from apps.keys.windows import Starts


def key_facts_load(*, digest: str) -> KeyFacts | None:
    facts = api_key_facts(digest=digest)
    if facts is not None and facts.account_id is None:  # a user without an account row yet
        account = account_ensure(user_id=facts.user_id)
        facts = KeyFacts(**{**facts.__dict__, "account_id": account.pk})
    return facts


def request_hold(
    *, request_id: str, facts: KeyFacts, amount: int, starts: Starts | None = None
) -> None:
    """Reserve the request's worst-case cost on the account, on the key's spend cap if it shares
    one, and on the key's credit limit and spend limit, if it has them (``starts`` are the
    current windows') in one transaction, or raise InsufficientCredits (BudgetReached,
    MemberCapReached) / KeyCreditLimitReached / KeySpendLimitReached."""
    with transaction.atomic():  # account, cap, then key: the order settlement locks them
        limited = facts.limited
        credits_hold(
            account_id=facts.account_id,
            amount=amount,
            reference=request_id,
            api_key_id=facts.budget_id if limited else None,
            spend_cap_id=facts.cap_id,
        )
        if limited:
            api_key_reserve(
                key_id=facts.budget_id, amount=amount, starts=starts, time_zone=facts.time_zone
            )


def balance_for_key(*, key_id: int, account_id: int) -> dict:
    """The account's credits and what is left of the key's own limits, in µcr."""
    key = ApiKey.objects.select_related("budget_key", "user", "spend_cap").get(pk=key_id)
    account = Account.objects.get(pk=account_id)
    return {
        "balance": account.balance,
        "held": account.held,
        "available": account.available,
        "key_name": key.name,
        "key_limit": key.budget_limit,
        "key_spent": key.budget_spent,
        "key_left": key.remaining_credit,
        "key_window": api_key_window(key=key, time_zone=key.user.time_zone),
        "member_cap": member_cap_of(key.spend_cap),
    }


def member_cap_of(cap) -> dict | None:
    """The spend cap a key shares (an organization member's), as this UTC month has it."""
    if cap is None:
        return None
    month = month_of(timezone.now())
    spent = cap.spent_in(month)
    limit = cap.monthly_limit
    following = (month + datetime.timedelta(days=32)).replace(day=1)
    return {
        "monthly_limit": limit,
        "month_spent": spent,
        "held": cap.held,
        "remaining": None if limit is None else max(limit - spent - cap.held, 0),
        "resets_at": datetime.datetime.combine(following, datetime.time(), datetime.UTC),
        "models": list(cap.allowed_models or []),
    }
