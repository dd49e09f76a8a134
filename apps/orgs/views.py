"""Organization pages under /org/: create, switch, settings, members, invitations, usage by
member. Every view checks the role (``apps.core.roles``) and looks objects up within the
organization the person acts for."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from apps.core.csv_export import csv_download
from apps.core.money import format_credits, micro_to_credits
from apps.core.roles import can, require_role

from . import selectors, services
from .errors import OrgError
from .forms import (
    BillingDetailsForm,
    DeleteOrgForm,
    InviteForm,
    LimitsForm,
    OrganizationForm,
    OrgSettingsForm,
    RoleForm,
    TransferForm,
)
from .middleware import SESSION_KEY


def in_organization(view):
    """The view needs an organization context (404 in the personal account)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if getattr(request, "organization", None) is None:
            raise Http404("Switch to an organization first.")
        return view(request, *args, **kwargs)

    return wrapped


def _act_as(request, org_id: int | None) -> None:
    if org_id is None:
        request.session.pop(SESSION_KEY, None)
    else:
        request.session[SESSION_KEY] = org_id


@login_required
@require_POST
def switch(request):
    """Act for an organization the person belongs to, or (empty) for their personal account."""
    raw = request.POST.get("org", "")
    org_id = int(raw) if raw.isdigit() else None
    if (
        org_id is not None
        and selectors.membership_for(org_id=org_id, user_id=request.user.pk) is None
    ):
        raise Http404("No such organization.")
    _act_as(request, org_id)
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("dashboard")
    # Object pages (a key, a request) belong to the account just left: go to the section.
    parts = [p for p in target.split("?")[0].split("/") if p]
    if len(parts) > 1 and parts[0] in ("keys", "usage", "org", "account", "requests"):
        target = "/" + parts[0] + "/" if parts[0] != "org" else reverse("dashboard")
    return redirect(target)


@login_required
@require_http_methods(["GET", "POST"])
def create(request):
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            org = services.organization_create(
                user_id=request.user.pk,
                name=form.cleaned_data["name"],
                time_zone=request.user.time_zone,
            )
        except OrgError as exc:
            form.add_error(None, exc.message)
        else:
            _act_as(request, org.pk)
            messages.success(request, _("Organization “%(name)s” created.") % {"name": org.name})
            return redirect("orgs:members")
    return render(request, "orgs/create.html", {"form": form})


def _org_settings_context(request, **forms):
    org = request.organization
    members = [m for m in selectors.members(org_id=org.pk) if m.user_id != request.user.pk]
    context = {
        "org": org,
        "settings_form": OrgSettingsForm(initial={"name": org.name, "time_zone": org.time_zone}),
        "billing_form": BillingDetailsForm(
            initial={
                "billing_name": org.billing_name,
                "billing_address": org.billing_address,
                "tax_id": org.tax_id,
            }
        ),
        "transfer_form": TransferForm(members=members),
        "delete_form": DeleteOrgForm(org_name=org.name),
        "can_settings": can(request, "org.settings"),
        "can_billing_details": can(request, "org.billing_details"),
        "is_owner": can(request, "org.owner"),
    }
    context.update(forms)
    return context


@login_required
@in_organization
@require_http_methods(["GET"])
def org_settings(request):
    return render(request, "orgs/settings.html", _org_settings_context(request))


@login_required
@in_organization
@require_role("org.settings")
@require_POST
def settings_save(request):
    form = OrgSettingsForm(request.POST)
    if form.is_valid():
        try:
            services.organization_update(
                org_id=request.organization.pk,
                name=form.cleaned_data["name"],
                time_zone=form.cleaned_data["time_zone"],
                actor_id=request.user.pk,
            )
        except OrgError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Saved."))
            return redirect("orgs:settings")
    return render(request, "orgs/settings.html", _org_settings_context(request, settings_form=form))


@login_required
@in_organization
@require_role("org.billing_details")
@require_POST
def billing_details_save(request):
    form = BillingDetailsForm(request.POST)
    if form.is_valid():
        try:
            services.organization_update(
                org_id=request.organization.pk, actor_id=request.user.pk, **form.cleaned_data
            )
        except OrgError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Saved."))
            return redirect("orgs:settings")
    return render(request, "orgs/settings.html", _org_settings_context(request, billing_form=form))


@login_required
@in_organization
@require_role("org.owner")
@require_POST
def transfer(request):
    org = request.organization
    members = [m for m in selectors.members(org_id=org.pk) if m.user_id != request.user.pk]
    form = TransferForm(request.POST, members=members)
    if form.is_valid():
        try:
            services.ownership_transfer(
                org_id=org.pk, from_user_id=request.user.pk, to_user_id=form.cleaned_data["to_user"]
            )
        except OrgError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Ownership transferred."))
            return redirect("orgs:settings")
    return render(request, "orgs/settings.html", _org_settings_context(request, transfer_form=form))


@login_required
@in_organization
@require_role("org.owner")
@require_POST
def delete(request):
    org = request.organization
    form = DeleteOrgForm(request.POST, org_name=org.name)
    if form.is_valid():
        try:
            services.organization_delete(org_id=org.pk, actor_id=request.user.pk)
        except OrgError as exc:
            form.add_error(None, exc.message)
        else:
            _act_as(request, None)
            messages.success(request, _("The organization was deleted."))
            return redirect("dashboard")
    return render(request, "orgs/settings.html", _org_settings_context(request, delete_form=form))


@login_required
@in_organization
@require_POST
def leave(request):
    try:
        services.member_leave(org_id=request.organization.pk, user_id=request.user.pk)
    except OrgError as exc:
        messages.error(request, exc.message)
        return redirect("orgs:settings")
    _act_as(request, None)
    messages.success(request, _("You left the organization."))
    return redirect("dashboard")


# Members ------------------------------------------------------------------------------------


def _members_context(request, invite_form=None, errors=None):
    org = request.organization
    rows = selectors.members(org_id=org.pk)
    for row in rows:
        cap = row.spend_cap
        row.role_form = RoleForm(initial={"role": row.role}, prefix=f"m{row.user_id}")
        row.limits_form = LimitsForm(
            initial={
                "monthly_cap": None
                if cap.monthly_limit is None
                else micro_to_credits(cap.monthly_limit),
                "allowed_models": ", ".join(cap.allowed_models or []),
            },
            prefix=f"m{row.user_id}",
        )
    return {
        "org": org,
        "members": rows,
        "invitations": selectors.pending_invitations(org_id=org.pk),
        "invite_form": invite_form or InviteForm(),
        "errors": errors or [],
    }


def _members_page(request, **kwargs):
    template = "orgs/partials/members.html" if request.htmx else "orgs/members.html"
    return render(request, template, _members_context(request, **kwargs))


@login_required
@in_organization
@require_role("members")
@require_http_methods(["GET", "POST"])
def members(request):
    """GET: members and pending invitations. POST: invite someone."""
    if request.method == "GET":
        return _members_page(request)
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            services.invitation_create(
                org_id=request.organization.pk,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                invited_by_id=request.user.pk,
            )
        except OrgError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                _("Invitation sent to %(email)s.") % {"email": form.cleaned_data["email"]},
            )
            if request.htmx:
                return _members_page(request)
            return redirect("orgs:members")
    return _members_page(request, invite_form=form)


def _member_action(request, action):
    try:
        action()
    except OrgError as exc:
        if request.htmx:
            return _members_page(request, errors=[exc.message])
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Saved."))
    if request.htmx:
        return _members_page(request)
    return redirect("orgs:members")


@login_required
@in_organization
@require_role("members")
@require_POST
def member_role(request, user_id: int):
    form = RoleForm(request.POST, prefix=f"m{user_id}")
    if not form.is_valid():
        return _member_action(request, lambda: _raise(_("Unknown role.")))
    return _member_action(
        request,
        lambda: services.member_role_set(
            org_id=request.organization.pk,
            user_id=user_id,
            role=form.cleaned_data["role"],
            actor_id=request.user.pk,
        ),
    )


def _raise(message):
    raise OrgError(message)


@login_required
@in_organization
@require_role("members")
@require_POST
def member_limits(request, user_id: int):
    form = LimitsForm(request.POST, prefix=f"m{user_id}")
    if not form.is_valid():
        return _member_action(request, lambda: _raise(_("Check the cap and the models.")))
    return _member_action(
        request,
        lambda: services.member_limits_set(
            org_id=request.organization.pk,
            user_id=user_id,
            monthly_limit=form.monthly_limit_micro,
            allowed_models=form.models,
            actor_id=request.user.pk,
        ),
    )


@login_required
@in_organization
@require_role("members")
@require_POST
def member_remove(request, user_id: int):
    if user_id == request.user.pk:
        return _member_action(request, lambda: _raise(_("To leave, use the settings page.")))
    return _member_action(
        request,
        lambda: services.member_remove(
            org_id=request.organization.pk, user_id=user_id, actor_id=request.user.pk
        ),
    )


@login_required
@in_organization
@require_role("members")
@require_POST
def invitation_resend(request, invitation_id: int):
    return _member_action(
        request,
        lambda: services.invitation_resend(
            org_id=request.organization.pk, invitation_id=invitation_id
        ),
    )


@login_required
@in_organization
@require_role("members")
@require_POST
def invitation_revoke(request, invitation_id: int):
    return _member_action(
        request,
        lambda: services.invitation_revoke(
            org_id=request.organization.pk, invitation_id=invitation_id, actor_id=request.user.pk
        ),
    )


@require_http_methods(["GET", "POST"])
def accept(request, token: str):
    """The link in an invitation: sign in (or up) with the invited address, then accept."""
    try:
        invitation = services.invitation_from_token(token)
    except OrgError as exc:
        return render(request, "orgs/accept.html", {"error": exc.message}, status=404)
    context = {"invitation": invitation, "next": request.get_full_path()}
    if request.method == "POST" and request.user.is_authenticated:
        try:
            membership = services.invitation_accept(token=token, user_id=request.user.pk)
        except OrgError as exc:
            context["error"] = exc.message
        else:
            _act_as(request, membership.organization_id)
            messages.success(
                request,
                _("You joined %(name)s.") % {"name": membership.organization.name},
            )
            return redirect("dashboard")
    return render(request, "orgs/accept.html", context)


# Usage by member ------------------------------------------------------------------------


@login_required
@in_organization
@require_role("usage.own")
def usage_by_member(request):
    """Spend per member, key and model; a member (or billing-less role) sees only their own."""
    org = request.organization
    period = request.GET.get("period") if request.GET.get("period") in ("month", "30d") else "month"
    only = None if can(request, "usage") else request.user.pk
    report = selectors.spend_by_member(org=org, period=period, only_user_id=only)
    if request.GET.get("format") == "csv":
        rows = (
            [
                row["api_key__created_by__email"] or "",
                row["api_key__name"] or "",
                row["model"],
                row["requests"],
                format_credits(row["cost"] or 0),
            ]
            for row in report["rows"]
        )
        header = ["member", "key", "model", "requests", "credits"]
        return csv_download(f"usage-by-member-{period}.csv", header, rows)
    chart = {
        "labels": [m["name"] for m in report["members"]],
        "cost": [float(micro_to_credits(m["cost"])) for m in report["members"]],
    }
    return render(
        request,
        "orgs/usage.html",
        {"org": org, "report": report, "period": period, "chart": chart, "only_own": only},
    )
