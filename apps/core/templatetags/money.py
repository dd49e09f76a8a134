from django import template

from apps.core.money import format_credits

register = template.Library()


@register.filter
def credits(micro):
    """Render µcr as credits with 4 decimals: ``{{ account.balance|credits }}``."""
    if micro is None or micro == "":
        return ""
    return format_credits(int(micro))
