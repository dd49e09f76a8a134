from apps.credits.services import credits_grant_signup


def user_email_verified(*, user_id: int) -> None:
    """A user proved they own an e-mail address. The first time, they get the signup grant.

    Safe to call any number of times, concurrently too: the grant is keyed by the user.
    """
    credits_grant_signup(user_id=user_id)
