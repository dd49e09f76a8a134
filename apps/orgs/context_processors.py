from apps.core.roles import can

from .selectors import organizations_for_user


def acting(request):
    """For the header's switcher: the organizations the person belongs to, and where they act."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "org_memberships": organizations_for_user(user_id=user.pk),
        "acting_membership": getattr(request, "membership", None),
        # The account menu's links the person's role opens (all of them in a personal account).
        "acting_can": {p: can(request, p) for p in ("webhooks", "audit", "members")},
    }
