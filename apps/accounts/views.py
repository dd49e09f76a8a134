from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from apps.credits.selectors import account_for_user, ledger_recent
from apps.usage.selectors import spend_summary

from .selectors import user_time_zone


def sparkline_points(values: list[int], width: int = 160, height: int = 40) -> str:
    """SVG polyline points for a small line of ``values`` (no JavaScript needed)."""
    if not values:
        return ""
    top = max(values) or 1
    step = width / max(len(values) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(values)
    )


@login_required
def dashboard(request):
    account = account_for_user(user_id=request.user.pk)
    balance = account.balance if account else 0
    held = account.held if account else 0
    spend = spend_summary(user_id=request.user.pk, tz=user_time_zone(request.user))
    context = {
        "spent_today": spend["today"],
        "spent_week": sum(spend["week"]),
        "sparkline": sparkline_points(spend["week"]),
        "balance": balance,
        "held": held,
        "available": balance - held,
        "entries": ledger_recent(account_id=account.pk, limit=10) if account else [],
    }
    return render(request, "accounts/dashboard.html", context)
