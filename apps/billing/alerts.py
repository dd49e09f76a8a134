"""E-mails about money: a balance below the user's warning level, and a monthly budget passing
50 %, 80 % or 100 %; each sent once."""

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.audit import services as audit
from apps.core.i18n import language_of_recipient
from apps.core.recipients import account_recipients
from apps.core.templatetags.formats import credits
from apps.credits.models import Account, LedgerEntry, month_of
from apps.webhooks import events as webhook_events

from .models import BillingProfile, BudgetAlert


def billing_profile(*, user_id: int) -> BillingProfile:
    profile, _created = BillingProfile.objects.get_or_create(user_id=user_id)
    return profile


def low_balance_threshold_set(
    *, user_id: int, threshold: int, actor=None, ip: str | None = None
) -> BillingProfile:
    if threshold < 0:
        raise ValueError("The threshold cannot be negative.")
    profile = billing_profile(user_id=user_id)
    with transaction.atomic():
        before = profile.low_balance_threshold
        profile.low_balance_threshold = threshold
        profile.save(update_fields=["low_balance_threshold"])
        if before != threshold:
            audit.record(
                account_id=user_id,
                actor=actor,
                action="settings.changed",
                before={"low_balance_threshold": before},
                after={"low_balance_threshold": threshold},
                ip=ip,
            )
    return profile


def low_balance_notify() -> int:
    """E-mail each user whose balance fell below their warning level, once; a balance back at
    or above it re-arms the warning. Returns how many e-mails were sent."""
    with_history = Account.objects.filter(
        Exists(LedgerEntry.objects.filter(account_id=OuterRef("pk")))
    )
    missing = with_history.exclude(user__billing_profile__isnull=False).values_list(
        "user_id", flat=True
    )
    BillingProfile.objects.bulk_create(
        [BillingProfile(user_id=user_id) for user_id in missing], ignore_conflicts=True
    )
    balance = Account.objects.filter(user_id=OuterRef("user_id")).values("balance")[:1]
    profiles = BillingProfile.objects.annotate(balance=Subquery(balance)).filter(
        balance__isnull=False
    )
    profiles.filter(low_balance_notified=True, balance__gte=F("low_balance_threshold")).update(
        low_balance_notified=False
    )
    sent = 0
    for profile in profiles.filter(
        low_balance_notified=False, balance__lt=F("low_balance_threshold"), user__is_active=True
    ).select_related("user"):
        with transaction.atomic():
            claimed = BillingProfile.objects.filter(
                pk=profile.pk, low_balance_notified=False
            ).update(low_balance_notified=True)
            if claimed:  # another run did not get there first
                transaction.on_commit(lambda profile=profile: _send_low_balance(profile))
                webhook_events.balance_low(profile)
                sent += 1
    return sent


def _send_low_balance(profile: BillingProfile) -> None:
    with language_of_recipient(profile.user):
        values = {
            "balance": credits(profile.balance),
            "threshold": credits(profile.low_balance_threshold),
            "url": f"{settings.SITE_URL}/billing/",
        }
        subject = _("[OpenCodex] Your credit balance is low")
        body = (
            _(
                "Your OpenCodex balance is %(balance)s credits, below your warning level of "
                "%(threshold)s credits."
            )
            % values
            + "\n\n"
            + _("Top up at %(url)s to keep your API keys working.") % values
            + "\n"
        )
    send_mail(subject, body, None, account_recipients(profile.user, "billing"))


def budget_alerts_send(*, now=None) -> int:
    """E-mail each account whose spending this month passed 50 %, 80 % or 100 % of its monthly
    budget: each level once per month (a unique row claims it). One e-mail per run and account
    names the highest level newly passed. Returns how many e-mails were sent."""
    month = month_of(now or timezone.now())
    levels = sorted(settings.BUDGET_ALERT_LEVELS)
    accounts = (
        Account.objects.filter(monthly_budget__gt=0, user__is_active=True)
        .alias(spent_pct=F("month_spent") * 100)
        .filter(
            Q(budget_month=month, month_spent__gt=0, spent_pct__gte=F("monthly_budget") * levels[0])
            | Q(budget_reached_month=month)
        )
        .select_related("user")
    )
    sent = 0
    for account in accounts:
        spent, budget = account.spent_in(month), account.monthly_budget
        # A request refused for the budget means it is used up, though the holds stopped
        # spending just short of it.
        reached = account.budget_reached_month == month
        passed = [lvl for lvl in levels if spent * 100 >= budget * lvl or reached]
        new = []
        for level in passed:
            try:
                with transaction.atomic():
                    BudgetAlert.objects.create(account=account, month=month, level=level)
                    webhook_events.budget_threshold(account, month=month, level=level)
            except IntegrityError:
                continue  # sent before
            new.append(level)
        if new:
            _send_budget_alert(account, max(new))
            sent += 1
    return sent


def _send_budget_alert(account: Account, level: int) -> None:
    with language_of_recipient(account.user):
        values = {
            "level": level,
            "spent": credits(account.month_spent),
            "budget": credits(account.monthly_budget),
            "url": f"{settings.SITE_URL}/billing/",
        }
        subject = _("[OpenCodex] %(level)s%% of your monthly budget used") % values
        body = (
            _(
                "This month your API usage has cost %(spent)s credits, %(level)s%% of your "
                "monthly budget of %(budget)s credits."
            )
            % values
            + "\n\n"
            + (
                _("API requests are refused until next month (UTC) or until you raise the budget.")
                + "\n"
                if level >= 100
                else ""
            )
            + _("Change the budget at %(url)s") % values
            + "\n"
        )
    send_mail(subject, body, None, account_recipients(account.user, "billing"))
