"""``{% key_insight key %}``: a key's spend over time and its latest requests, rendered on the
key's page (apps/keys sits below apps/usage: its templates ask, its code does not import)."""

from django import template

from apps.core.money import micro_to_credits
from apps.core.timezones import user_time_zone

from .. import selectors

register = template.Library()


@register.inclusion_tag("usage/partials/key_insight.html", takes_context=True)
def key_insight(context, key):
    user = context["request"].user
    insight = selectors.key_insight(user_id=user.pk, key_id=key.pk, tz=user_time_zone(user))
    chart = {
        "labels": insight["labels"],
        "cost": {
            name: [float(micro_to_credits(v)) for v in s["cost"]]
            for name, s in insight["series"].items()
            if any(s["cost"])
        },
    }
    return {"key": key, "insight": insight, "chart": chart, "request": context["request"]}
