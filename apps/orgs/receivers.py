from django.dispatch import receiver

from apps.accounts.services import user_deleting

from .models import PRINCIPAL_EMAIL_DOMAIN
from .services import memberships_close_user


@receiver(user_deleting, dispatch_uid="orgs.user_deleting.leave")
def on_user_deleting(sender, user_id, **kwargs):
    """A person closing their account leaves every organization first (their keys there are
    revoked); the last owner of one is refused until they transfer it."""
    memberships_close_user(user_id=user_id)


def org_recipients(user, permission: str) -> list[str] | None:
    """For an organization's principal user: the members whose role has ``permission``."""
    from apps.core.roles import PERMISSIONS

    from .models import Membership, Organization

    if not str(user.email).endswith("@" + PRINCIPAL_EMAIL_DOMAIN):
        return None
    org = Organization.objects.filter(principal_id=user.pk).first()
    if org is None:
        return None
    roles = PERMISSIONS.get(permission, PERMISSIONS["org.owner"])
    return sorted(
        Membership.objects.filter(organization=org, role__in=roles).values_list(
            "user__email", flat=True
        )
    )


def org_billing_details(user) -> dict | None:
    """For an organization's principal user: the billing details its invoices name."""
    from .models import Organization

    if not str(user.email).endswith("@" + PRINCIPAL_EMAIL_DOMAIN):
        return None
    org = Organization.objects.filter(principal_id=user.pk).first()
    if org is None:
        return None
    return {
        "name": org.billing_name or org.name,
        "address": org.billing_address,
        "tax_id": org.tax_id,
    }
