"""Reads for organizations: a person's organizations, members with their caps and spending."""

from datetime import timedelta

from django.db.models import Sum
from django.utils import timezone

from apps.core.roles import PERMISSIONS
from apps.credits.models import month_of
from apps.keys.models import ApiKey
from apps.usage.models import UsageHour

from .models import PRINCIPAL_EMAIL_DOMAIN, Invitation, Membership, Organization


def organizations_for_user(*, user_id: int) -> list[Membership]:
    return list(
        Membership.objects.filter(user_id=user_id, organization__deleted_at__isnull=True)
        .select_related("organization")
        .order_by("organization__name", "organization_id")
    )


def membership_for(*, org_id: int, user_id: int) -> Membership | None:
    return (
        Membership.objects.filter(
            organization_id=org_id, user_id=user_id, organization__deleted_at__isnull=True
        )
        .select_related("organization__principal", "spend_cap")
        .first()
    )


def members(*, org_id: int) -> list[Membership]:
    month = month_of(timezone.now())
    rows = list(
        Membership.objects.filter(organization_id=org_id)
        .select_related("user", "spend_cap")
        .order_by("created_at", "pk")
    )
    for row in rows:
        cap = row.spend_cap
        row.spent_this_month = cap.spent_in(month)
        row.remaining = (
            None if cap.monthly_limit is None else max(cap.monthly_limit - row.spent_this_month, 0)
        )
    return rows


def pending_invitations(*, org_id: int) -> list[Invitation]:
    return list(
        Invitation.objects.filter(
            organization_id=org_id, accepted_at__isnull=True, revoked_at__isnull=True
        )
        .select_related("invited_by")
        .order_by("-created_at")
    )


def invitation_in_org(*, org_id: int, invitation_id: int) -> Invitation | None:
    return Invitation.objects.filter(organization_id=org_id, pk=invitation_id).first()


def organization(*, org_id: int) -> Organization | None:
    return Organization.objects.filter(pk=org_id, deleted_at__isnull=True).first()


PERIODS = {"month": "month", "30d": "30d"}


def spend_by_member(*, org: Organization, period: str, only_user_id: int | None = None) -> dict:
    """What the organization's keys spent, by member (the key's creator), key and model: this
    UTC month (``month``) or the last 30 days (``30d``, from the start of the hour 30 days
    ago). Read from the hourly rollups (the raw records of a busy month are millions of rows),
    so it lags live traffic by the rollup's minute, as the usage page does."""
    now = timezone.now()
    if period == "30d":
        start = (now - timedelta(days=30)).replace(minute=0, second=0, microsecond=0)
    else:
        start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    keys = {
        key.pk: key
        for key in ApiKey.objects.filter(user_id=org.principal_id).select_related("created_by")
    }
    hours = UsageHour.objects.filter(user_id=org.principal_id, hour__gte=start)
    if only_user_id is not None:
        hours = hours.filter(
            key_id__in=[k for k, v in keys.items() if v.created_by_id == only_user_id]
        )
    # A deleted key's hours keep its old id until a rebuild makes it 0: both are "no key".
    merged: dict[tuple, dict] = {}
    for row in (
        hours.values("key_id", "model")
        .annotate(cost=Sum("cost"), requests=Sum("requests"))
        .order_by()
    ):
        key = keys.get(row["key_id"])
        creator = key.created_by if key is not None else None
        bucket = merged.setdefault(
            (key.pk if key is not None else None, row["model"]),
            {
                "api_key__created_by_id": creator.pk if creator else None,
                "api_key__created_by__email": creator.email if creator else None,
                "api_key__created_by__name": creator.name if creator else None,
                "api_key_id": key.pk if key is not None else None,
                "api_key__name": key.name if key is not None else None,
                "api_key__prefix": key.prefix if key is not None else None,
                "model": row["model"],
                "cost": 0,
                "requests": 0,
            },
        )
        bucket["cost"] += row["cost"] or 0
        bucket["requests"] += row["requests"] or 0
    rows = list(merged.values())
    rows.sort(
        key=lambda r: (
            r["api_key__created_by__email"] is None,
            r["api_key__created_by__email"] or "",
            r["api_key__name"] or "",
            r["model"],
        )
    )
    by_member: dict = {}
    for row in rows:
        who = row["api_key__created_by__name"] or row["api_key__created_by__email"] or "—"
        member = by_member.setdefault(
            row["api_key__created_by_id"], {"name": who, "cost": 0, "requests": 0}
        )
        member["cost"] += row["cost"]
        member["requests"] += row["requests"]
    return {
        "start": start,
        "rows": rows,
        "members": sorted(by_member.values(), key=lambda m: -m["cost"]),
        "total": sum(m["cost"] for m in by_member.values()),
    }


# Resolvers registered in apps.core.recipients (apps below this one ask there) --------------


def org_recipients(user, permission: str) -> list[str] | None:
    """For an organization's principal user: the members whose role has ``permission``."""
    if not str(user.email).endswith("@" + PRINCIPAL_EMAIL_DOMAIN):
        return None
    org = Organization.objects.filter(principal_id=user.pk).first()
    if org is None:
        return None
    roles = PERMISSIONS.get(permission, PERMISSIONS["org.owner"])
    return sorted(
        Membership.objects.filter(organization=org, role__in=roles).values_list(
            "user__email", flat=True
        )
    )


def org_billing_details(user) -> dict | None:
    """For an organization's principal user: the billing details its invoices name."""
    if not str(user.email).endswith("@" + PRINCIPAL_EMAIL_DOMAIN):
        return None
    org = Organization.objects.filter(principal_id=user.pk).first()
    if org is None:
        return None
    return {
        "name": org.billing_name or org.name,
        "address": org.billing_address,
        "tax_id": org.tax_id,
    }
