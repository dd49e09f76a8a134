import csv

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

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


class _Echo:
    def write(self, value):
        return value


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value):
    """Text a spreadsheet would run as a formula gets a leading quote (as the usage export)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


@login_required
@require_GET
def audit_export(request):
    """The filtered events as CSV (UTF-8 with a byte order mark, so spreadsheets read the
    Chinese and the arrows right)."""
    _form, events = _filtered(request)
    writer = csv.writer(_Echo())
    header = [
        _("Time (UTC)"),
        _("Actor"),
        _("IP address"),
        _("Action"),
        _("Code"),
        _("Target"),
        _("Changes"),
    ]

    def lines():
        yield "\ufeff" + writer.writerow(header)
        for event in events.iterator(chunk_size=2000):
            row = [
                event.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                event.actor_label or _("System"),
                event.ip or "",
                actions.action_label(event.action),
                event.action,
                event.target,
                actions.changes_text(event),
            ]
            yield writer.writerow([_cell(cell) for cell in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="opencodex-audit-log.csv"'
    return response
