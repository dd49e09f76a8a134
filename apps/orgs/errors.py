from apps.core.errors import ServiceError


class OrgError(ServiceError):
    """An organization operation refused (the message says why, for the person)."""
