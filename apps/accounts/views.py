from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from apps.credits.selectors import account_for_user, ledger_recent


@login_required
def dashboard(request):
    account = account_for_user(user_id=request.user.pk)
    balance = account.balance if account else 0
    held = account.held if account else 0
    context = {
        "balance": balance,
        "held": held,
        "available": balance - held,
        "entries": ledger_recent(account_id=account.pk, limit=10) if account else [],
    }
    return render(request, "accounts/dashboard.html", context)
