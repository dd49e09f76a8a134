"""The account a request acts on: the person's own, or an organization they belong to."""

from .selectors import membership_for

SESSION_KEY = "orgs_acting"


class ActingAccountMiddleware:
    """Sets ``request.acting_user`` (the organization's principal user, or ``request.user``
    for the personal account), ``request.membership`` and ``request.organization``.

    The choice lives in the session and is checked against the database on every request: a
    member who was removed (or whose organization was deleted) is back in their personal
    account on their next click."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.acting_user = request.user
        request.membership = None
        request.organization = None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            org_id = request.session.get(SESSION_KEY)
            if org_id is not None:
                membership = (
                    membership_for(org_id=org_id, user_id=user.pk)
                    if isinstance(org_id, int)
                    else None
                )
                if membership is None:
                    request.session.pop(SESSION_KEY, None)
                else:
                    request.membership = membership
                    request.organization = membership.organization
                    request.acting_user = membership.organization.principal
        return self.get_response(request)
