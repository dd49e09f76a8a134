from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django.views.i18n import set_language as django_set_language

from apps.audit.client import client_ip
from apps.billing.referrals import SESSION_KEY as REFERRAL_SESSION_KEY
from apps.billing.referrals import code_normalize
from apps.core.errors import ServiceError
from apps.core.roles import acting_user, can, membership_of, require_role
from apps.credits.memos import memo_display
from apps.credits.models import month_of
from apps.credits.selectors import account_for_user, account_standing, ledger_recent
from apps.keys.selectors import api_key_first_steps
from apps.usage.selectors import spend_summary

from . import services
from .forms import ContentStorageForm, DeleteAccountForm, ProfileForm, TimeZoneForm
from .selectors import sign_in_methods, user_time_zone


def sparkline_points(values: list[int], width: int = 160, height: int = 40) -> str:
    """SVG polyline points for a small line of ``values`` (no JavaScript needed)."""
    if not values:
        return ""
    top = max(values) or 1
    step = width / max(len(values) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(values)
    )


def _member_cap(request) -> dict | None:
    """In an organization: the person's monthly cap, what they spent of it and what is left."""
    membership = membership_of(request)
    if membership is None:
        return None
    cap = membership.spend_cap
    spent = cap.spent_in(month_of(timezone.now()))
    limit = cap.monthly_limit
    return {
        "limit": limit,
        "spent": spent,
        "remaining": None if limit is None else max(limit - spent, 0),
        "models": cap.allowed_models,
        "role": membership.get_role_display(),
        "organization": membership.organization,
    }


@login_required
@require_role("dashboard")
def dashboard(request):
    acting = acting_user(request)
    account = account_for_user(user_id=acting.pk)
    balance = account.balance if account else 0
    held = account.held if account else 0
    spend = spend_summary(user_id=acting.pk, tz=user_time_zone(acting))
    show_ledger = can(request, "billing")
    context = {
        # The balance is the account row, live (usage is charged to it as requests finish);
        # the activity below gets each request's ledger row from the rollup, within a minute.
        "standing": account_standing(account, now=timezone.now()),
        "spent_today": spend["today"],
        "spent_week": sum(spend["week"]),
        "sparkline": sparkline_points(spend["week"]),
        "balance": balance,
        "held": held,
        "available": balance - held,
        "entries": _with_notes(
            ledger_recent(account_id=account.pk, limit=10) if account and show_ledger else []
        ),
        "member_cap": _member_cap(request),
        # Spend over 30 days and the latest requests, for whoever may read the account's usage.
        "show_usage": can(request, "usage"),
        **api_key_first_steps(user_id=acting.pk),
    }
    return render(request, "accounts/dashboard.html", context)


def _with_notes(entries):
    for entry in entries:
        entry.note = memo_display(entry.memo)
    return entries


def _settings_page(
    request, *, profile_form=None, tz_form=None, content_form=None, delete_form=None, status=200
):
    user = request.user
    context = {
        "profile_form": profile_form or ProfileForm(initial={"name": user.name}),
        "tz_form": tz_form or TimeZoneForm(initial={"time_zone": user.time_zone}),
        "content_form": content_form
        or ContentStorageForm(initial={"days": user.store_content_days}),
        "delete_form": delete_form or DeleteAccountForm(user=user),
        **sign_in_methods(user_id=user.pk),
        "has_password": user.has_usable_password(),
    }
    return render(request, "accounts/settings.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def account_settings(request):
    """Profile, time zone and language; links to e-mail, password and two-factor pages; and the
    way out (deleting the account)."""
    if request.method == "GET":
        return _settings_page(request)
    action = request.POST.get("action")
    if action == "profile":
        form = ProfileForm(request.POST)
        if not form.is_valid():
            return _settings_page(request, profile_form=form, status=400)
        services.user_profile_update(
            user_id=request.user.pk,
            name=form.cleaned_data["name"],
            actor=request.user,
            ip=client_ip(request),
        )
        messages.success(request, _("Profile saved."))
    elif action == "time_zone":
        form = TimeZoneForm(request.POST)
        if not form.is_valid():
            return _settings_page(request, tz_form=form, status=400)
        services.user_time_zone_set(
            user_id=request.user.pk,
            time_zone=form.cleaned_data["time_zone"],
            actor=request.user,
            ip=client_ip(request),
        )
        messages.success(request, _("Time zone saved."))
    elif action == "content":
        form = ContentStorageForm(request.POST)
        if not form.is_valid():
            return _settings_page(request, content_form=form, status=400)
        days = form.cleaned_data["days"]
        services.user_content_storage_set(
            user_id=request.user.pk, days=days, actor=request.user, ip=client_ip(request)
        )
        if days:
            messages.success(
                request,
                _("Prompts and answers of new API requests are kept for %(days)s days.")
                % {"days": days},
            )
        else:
            messages.success(
                request, _("Prompts and answers are no longer kept; kept ones are deleted.")
            )
    else:
        return _settings_page(request, status=400)
    return redirect("account_settings")


@login_required
@require_POST
def account_delete(request):
    form = DeleteAccountForm(request.POST, user=request.user)
    if not form.is_valid():
        return _settings_page(request, delete_form=form, status=400)
    try:
        services.user_delete(user_id=request.user.pk, actor=request.user, ip=client_ip(request))
    except ServiceError as exc:
        form.add_error(None, exc.message)
        return _settings_page(request, delete_form=form, status=400)
    logout(request)
    messages.success(
        request,
        _("Your account is deleted. Its API keys no longer work and your personal data is gone."),
    )
    return redirect("home")


@login_required
@require_POST
def usage_time_zone(request):
    """Old address of the time zone form, /usage/time-zone/ (it lives on the account page now).
    Routed from config/urls.py under its old name, ``usage:time_zone``."""
    form = TimeZoneForm(request.POST)
    if form.is_valid():
        services.user_time_zone_set(
            user_id=request.user.pk,
            time_zone=form.cleaned_data["time_zone"],
            actor=request.user,
            ip=client_ip(request),
        )
        messages.success(request, _("Time zone saved."))
    else:
        messages.error(request, _("Choose a time zone from the list."))
    return redirect("usage:index")


def invite(request, code: str):
    """An invite link: keep its code for the sign-up that follows (e-mail or social), then go
    there. A signed-in visitor is already an account: nothing to tie."""
    if request.user.is_authenticated:
        return redirect("dashboard")
    code = code_normalize(code)
    if code:
        request.session[REFERRAL_SESSION_KEY] = code
    return redirect("account_signup")


def set_language(request):
    """Django's language switch; a signed-in user's choice is also the language of their
    e-mails."""
    response = django_set_language(request)
    if request.method == "POST" and request.user.is_authenticated:
        services.user_language_set(
            user_id=request.user.pk,
            language=request.POST.get("language", ""),
            actor=request.user,
            ip=client_ip(request),
        )
    return response


@require_POST
def verification_resend(request):
    """The verify-email page's "Send it again"."""
    from .pending import pending_signup_resend, pending_signup_status

    status = pending_signup_status(request)
    if status is None:
        return redirect("account_signup")
    if pending_signup_resend(request):
        messages.success(request, _("We sent a new link to %(email)s.") % status)
    return redirect("account_email_verification_sent")


@require_POST
def verification_change(request):
    """The verify-email page's "Wrong address?": sign up with the right one instead."""
    from .forms import EmailChangeForm
    from .pending import pending_signup_change, pending_signup_status

    status = pending_signup_status(request)
    if status is None:
        return redirect("account_signup")
    form = EmailChangeForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "account/verification_sent.html",
            {"pending": status, "change_form": form},
            status=400,
        )
    pending_signup_change(request, email=form.cleaned_data["email"])
    return redirect("account_email_verification_sent")
