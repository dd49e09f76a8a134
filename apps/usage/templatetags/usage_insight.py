"""``{% key_insight key %}`` and ``{% account_insight %}``: what a key, or the account acted
for, spent over the last 30 days (a chart by model) and its latest requests; on a key's page and
on the dashboard (apps/keys and apps/accounts sit beside or above apps/usage: their templates
ask, their code does not import)."""

from django import template
from django.urls import reverse

from apps.core.money import micro_to_credits
from apps.core.roles import acting_user, can
from apps.core.timezones import user_time_zone

from .. import selectors

register = template.Library()


def _insight(context, *, user, key=None) -> dict:
    tz = user_time_zone(user)
    insight = selectors.spend_insight(user_id=user.pk, key_id=key.pk if key else None, tz=tz)
    chart = {
        "labels": insight["labels"],
        "cost": {
            name: [float(micro_to_credits(v)) for v in s["cost"]]
            for name, s in insight["series"].items()
            if any(s["cost"])
        },
    }
    return {
        "scope": "key" if key else "account",
        "key": key,
        "insight": insight,
        "chart": chart,
        "request": context["request"],
        # Days are the account's (an organization's zone may not be the person's).
        "days_zone": tz.key,
        # The request pages and the usage pages need the usage permission (a plain member
        # sees their own key's numbers, not links that would refuse them).
        "links": can(context["request"], "usage"),
        "detail_url": reverse("console:request_detail", args=["-"])[:-2],
    }


@register.inclusion_tag("usage/partials/insight.html", takes_context=True)
def key_insight(context, key):
    """The key's owner is the account (an organization's key belongs to its principal), and
    its days are the account's."""
    return _insight(context, user=key.user, key=key)


@register.inclusion_tag("usage/partials/insight.html", takes_context=True)
def account_insight(context):
    return _insight(context, user=acting_user(context["request"]))
