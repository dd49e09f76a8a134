from apps.keys import services


def make_key(user, **kwargs):
    """A key for ``user`` through the service, returning (key, secret)."""
    kwargs.setdefault("name", "test key")
    return services.api_key_create(user_id=user.pk, **kwargs)
