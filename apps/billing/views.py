from allauth.account.adapter import get_adapter
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, pgettext
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from apps.audit.client import client_ip
from apps.core.errors import ServiceError
from apps.core.money import micro_to_credits
from apps.core.roles import acting_user, require_role
from apps.core.templatetags.formats import credits as credits_filter
from apps.core.templatetags.formats import tokens as tokens_filter
from apps.credits.selectors import account_for_user, account_standing
from apps.credits.services import credits_budget_set
from apps.keys.selectors import api_key_first_steps

from . import currencies, selectors, services
from .forms import AutoTopUpForm, BudgetForm, CurrencyForm, LowBalanceForm, RedeemForm, TopUpForm
from .models import METHOD_LABELS, Payment


def _methods_text(methods: list[str]) -> str:
    """``card, Alipay or WeChat Pay`` (银行卡、支付宝或微信支付)."""
    names = [str(METHOD_LABELS.get(m, m)) for m in methods]
    if len(names) == 1:
        return names[0]
    return _("%(some)s or %(last)s") % {
        "some": pgettext("list separator", ", ").join(names[:-1]),
        "last": names[-1],
    }


def _currency(request) -> str:
    return selectors.billing_currency(user_id=acting_user(request).pk, language=get_language())


def _page(
    request,
    *,
    topup_form=None,
    low_form=None,
    budget_form=None,
    auto_form=None,
    redeem_form=None,
    status=200,
):
    account = account_for_user(user_id=acting_user(request).pk)
    threshold = selectors.low_balance_threshold(user_id=acting_user(request).pk)
    auto = selectors.auto_topup(user_id=acting_user(request).pk)
    budget = account.monthly_budget if account else None
    currency = topup_form.currency if topup_form is not None else _currency(request)
    low, high, rate = currencies.custom_range(currency)
    referral = services.referral_summary(user_id=acting_user(request).pk)
    context = {
        "auto": auto,
        "auto_form": auto_form
        or AutoTopUpForm(
            prefix="auto",
            initial={
                "enabled": auto.enabled,
                "threshold": micro_to_credits(auto.threshold),
                "dollars": auto.amount_dollars,
            },
        ),
        "budget": budget,
        "standing": account_standing(account, now=timezone.now()),
        "month_spent": selectors.month_spent(account) if account else 0,
        "budget_form": budget_form
        or BudgetForm(initial={"budget": micro_to_credits(budget) if budget is not None else None}),
        "enabled": services.stripe_enabled(),
        # How to turn top-ups on is for operators, not customers.
        "show_setup": request.user.is_staff or settings.DEBUG,
        "balance": account.balance if account else 0,
        "suspended": bool(account and account.suspended),
        # Keys that spent their whole credit limit: the API refuses them whatever the balance.
        "keys_at_limit": api_key_first_steps(user_id=acting_user(request).pk)["keys_at_limit"],
        "currency": currency,
        "currency_name": currencies.NAMES.get(currency, currency.upper()),
        "currency_form": CurrencyForm(initial={"currency": currency}),
        "methods": _methods_text(currencies.payment_methods(currency)),
        "wallets": len(currencies.payment_methods(currency)) > 1,
        "packs": currencies.packs(currency),
        "today": timezone.localdate(),
        "topup_form": topup_form or TopUpForm(currency=currency),
        "redeem_form": redeem_form or RedeemForm(),
        "low_form": low_form or LowBalanceForm(initial={"threshold": micro_to_credits(threshold)}),
        "payments": selectors.payments_for_user(user_id=acting_user(request).pk),
        "custom_low": currencies.money(low * 100, currency, whole=True),
        "custom_high": currencies.money(high * 100, currency, whole=True),
        "custom_rate": rate,
        "referral": referral,
        "invite_url": settings.SITE_URL.rstrip("/")
        + reverse("invite", args=[referral["referrer"].code]),
    }
    return render(request, "billing/index.html", context, status=status)


@login_required
@require_role("billing")
def billing_index(request):
    return _page(request)


@login_required
@require_role("billing")
@require_POST
def currency(request):
    """Remember the currency the user chose; the page then shows its prices."""
    form = CurrencyForm(request.POST)
    if form.is_valid():
        services.billing_currency_set(
            user_id=acting_user(request).pk, currency=form.cleaned_data["currency"]
        )
    return redirect("billing:index")


@login_required
@require_role("billing")
@require_POST
def checkout(request):
    data = request.POST.copy()
    if not data.get("currency"):
        data["currency"] = _currency(request)
    shown = data["currency"] if currencies.currency_valid(data["currency"]) else _currency(request)
    form = TopUpForm(data, currency=shown)
    if not form.is_valid():
        return _page(request, topup_form=form, status=400)
    try:
        _, url = services.checkout_create(
            user=acting_user(request),
            currency=form.cleaned_data["currency"],
            pack=form.cleaned_data["pack"],
            units=form.cleaned_data["amount"] if form.cleaned_data["pack"] is None else None,
            language=get_language(),
            success_url=request.build_absolute_uri(reverse("billing:success")),
            cancel_url=request.build_absolute_uri(reverse("billing:cancel")),
        )
    except ServiceError as exc:
        form.add_error(None, exc.message)
        return _page(request, topup_form=form, status=503)
    return HttpResponse(status=303, headers={"Location": url})  # to Stripe's checkout page


@login_required
@require_role("billing")
@require_POST
def redeem(request):
    form = RedeemForm(request.POST)
    if not form.is_valid():
        return _page(request, redeem_form=form, status=400)
    try:
        ip = get_adapter(request).get_client_ip(request)
    except PermissionDenied:
        ip = None
    try:
        code = services.redemption_redeem(
            user_id=acting_user(request).pk, code=form.cleaned_data["code"], ip=ip
        )
    except services.RedemptionRefused as exc:
        form.add_error("code", exc.message)
        return _page(request, redeem_form=form, status=429 if exc.reason == "rate_limited" else 400)
    messages.success(
        request,
        _("Code redeemed: %(credits)s credits were added to your balance.")
        % {"credits": credits_filter(code.batch.credits_each)},
    )
    return redirect("billing:index")


@login_required
@require_role("billing")
def success(request):
    """Stripe sends the customer back here; fulfil now rather than wait for the webhook."""
    session_id = request.GET.get("session_id", "")
    if not session_id:
        # Opened by hand or from history (also with top-ups off): the billing page, not a 404.
        messages.info(
            request, _("There is no checkout to confirm; your payments are listed below.")
        )
        return redirect("billing:index")
    payment = Payment.objects.filter(
        checkout_session_id=session_id, user=acting_user(request)
    ).first()
    if payment is None:
        raise Http404("No such checkout.")
    try:
        session = services.checkout_session_retrieve(session_id=session_id)
        payment = services.checkout_fulfil(session=session) or payment
    except Exception:
        messages.warning(
            request, _("Stripe has not confirmed the payment yet; it will appear soon.")
        )
        return redirect("billing:index")
    if payment.status == Payment.Status.PAID:
        messages.success(
            request,
            _("Thank you! %(credits)s credits were added to your balance.")
            % {"credits": tokens_filter(payment.credits_whole)},
        )
    elif payment.status == Payment.Status.PENDING:
        messages.info(
            request,
            _(
                "Your payment is being confirmed. The credits are added as soon as Stripe "
                "tells us the money arrived; this page shows the outcome."
            ),
        )
    elif payment.status == Payment.Status.FAILED and payment.failure_reason:
        messages.error(
            request, _("The payment failed: %(reason)s") % {"reason": payment.failure_reason}
        )
    else:
        messages.info(
            request,
            _("Your payment is %(status)s.") % {"status": payment.get_status_display().lower()},
        )
    return redirect("billing:index")


@login_required
@require_role("billing")
def cancel(request):
    messages.info(request, _("Checkout cancelled; nothing was charged."))
    return redirect("billing:index")


@login_required
@require_role("billing")
@require_POST
def low_balance(request):
    form = LowBalanceForm(request.POST)
    if not form.is_valid():
        return _page(request, low_form=form, status=400)
    services.low_balance_threshold_set(
        user_id=acting_user(request).pk,
        threshold=form.threshold_micro,
        actor=request.user,
        ip=client_ip(request),
    )
    messages.success(request, _("Low-balance warning saved."))
    return redirect("billing:index")


@login_required
@require_role("billing")
@require_POST
def budget(request):
    form = BudgetForm(request.POST)
    if not form.is_valid():
        return _page(request, budget_form=form, status=400)
    account = credits_budget_set(
        user_id=acting_user(request).pk,
        budget=form.budget_micro,
        actor=request.user,
        ip=client_ip(request),
    )
    messages.success(request, _("Monthly budget saved."))
    spent = selectors.month_spent(account)
    if form.budget_micro is not None and form.budget_micro <= spent:
        messages.warning(
            request,
            _(
                "This month's API usage (%(spent)s credits) is already at or above this budget: "
                "the API refuses requests until the next month (UTC) or until you raise it."
            )
            % {"spent": credits_filter(spent)},
        )
    return redirect("billing:index")


@login_required
@require_role("billing")
@require_POST
def auto_topup(request):
    form = AutoTopUpForm(request.POST, prefix="auto")
    if not form.is_valid():
        return _page(request, auto_form=form, status=400)
    try:
        config = services.auto_topup_settings_set(
            user_id=acting_user(request).pk,
            enabled=form.cleaned_data["enabled"],
            threshold=form.threshold_micro,
            dollars=form.cleaned_data["dollars"],
            actor=request.user,
            ip=client_ip(request),
        )
    except ServiceError as exc:
        form.add_error(None, exc.message)
        return _page(request, auto_form=form, status=400)
    messages.success(
        request, _("Auto top-up is on.") if config.enabled else _("Auto top-up is off.")
    )
    return redirect("billing:index")


@login_required
@require_role("billing")
@require_POST
def card(request):
    """Save a card for auto top-up through Stripe Checkout in setup mode."""
    try:
        url = services.card_setup_start(
            user=acting_user(request),
            success_url=request.build_absolute_uri(reverse("billing:card_saved")),
            cancel_url=request.build_absolute_uri(reverse("billing:cancel")),
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("billing:index")
    return HttpResponse(status=303, headers={"Location": url})


@login_required
@require_role("billing")
def card_saved(request):
    session_id = request.GET.get("session_id", "")
    try:
        session = services.checkout_session_retrieve(session_id=session_id)
        if str((session.get("metadata") or {}).get("user_id")) != str(acting_user(request).pk):
            raise Http404("No such setup.")
        config = services.card_setup_complete(
            session=session, actor=request.user, ip=client_ip(request)
        )
    except Http404:
        raise
    except Exception:
        config = None
    if config is None or not config.has_card:
        messages.warning(request, _("Stripe has not confirmed the card yet; please try again."))
    else:
        messages.success(
            request,
            _("Card saved: %(brand)s ending %(last4)s.")
            % {"brand": config.card_brand.title(), "last4": config.card_last4},
        )
    return redirect("billing:index")


@csrf_exempt
@require_POST
def stripe_webhook(request):
    try:
        outcome = services.stripe_event_receive(
            payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
    except services.BadSignature as exc:
        return HttpResponseBadRequest(exc.message)
    except Exception:
        return HttpResponse("handler failed; stored for retry", status=500)
    return HttpResponse(outcome)
