from django.dispatch import receiver

from apps.accounts.services import user_deleting

from .services import memberships_close_user


@receiver(user_deleting, dispatch_uid="orgs.user_deleting.leave")
def on_user_deleting(sender, user_id, **kwargs):
    """A person closing their account leaves every organization first (their keys there are
    revoked); the last owner of one is refused until they transfer it."""
    memberships_close_user(user_id=user_id)
