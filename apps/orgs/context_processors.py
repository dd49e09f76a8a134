from .selectors import organizations_for_user


def acting(request):
    """For the header's switcher: the organizations the person belongs to, and where they act."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "org_memberships": organizations_for_user(user_id=user.pk),
        "acting_membership": getattr(request, "membership", None),
    }
