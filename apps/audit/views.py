from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from apps.core.csv_export import csv_download

from . import actions, selectors
from .forms import AuditFilterForm


def _readable_account(request) -> int:
    account_id = selectors.audit_account_id(request)
    if account_id is None:
        raise Http404("No audit log here.")
    if not selectors.can_read_audit(request, account_id=account_id):
        raise PermissionDenied("Only an organization's owners and admins read its audit log.")
    return account_id


def _filtered(request):
    form = AuditFilterForm(request.GET or None)
    account_id = _readable_account(request)
    return form, selectors.audit_events(account_id=account_id, **form.query())


@login_required
@require_GET
def audit_log(request):
    """The account's events, newest first, a page at a time, with filters and an export."""
    form, events = _filtered(request)
    page = Paginator(events, settings.AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    for event in page:
        event.label = actions.action_label(event.action)
        event.changes = actions.changes(event)
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "filter_query": params.urlencode(),
    }
    template = "audit/partials/area.html" if request.htmx else "audit/log.html"
    return render(request, template, context)


@login_required
@require_GET
def audit_export(request):
    """The filtered events as CSV (UTF-8 with a byte order mark, so spreadsheets read the
    Chinese and the arrows right)."""
    _form, events = _filtered(request)
    # The account's zone, taken now: the rows are written after the view returns, when the
    # middleware has put the default zone back.
    zone = timezone.get_current_timezone()
    header = [
        _("Time (%(zone)s)") % {"zone": timezone.get_current_timezone_name()},
        _("Actor"),
        _("IP address"),
        _("Action"),
        _("Code"),
        _("Target"),
        _("Changes"),
    ]

    def rows():
        for event in events.iterator(chunk_size=2000):
            # The changes print times too (an expiry): in the same zone, set again for them (the
            # middleware has put the default back by the time the rows are written).
            with timezone.override(zone):
                changes = actions.changes_text(event)
            yield [
                event.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
                event.actor_label or _("System"),
                event.ip or "",
                actions.action_label(event.action),
                event.action,
                event.target,
                changes,
            ]

    return csv_download("opencodex-audit-log.csv", header, rows())
