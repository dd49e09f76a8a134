"""Who reads the e-mails about an account (low balance, budget, auto top-up, webhooks).

A person's account: the person. An organization's account is owned by a principal user whose
address cannot receive mail; ``apps.orgs`` registers a resolver that answers with the
addresses of the members whose role covers the subject. Apps below ``apps.orgs`` ask here
(``account_recipients``) instead of reading ``user.email``."""

from collections.abc import Callable

_resolvers: list[Callable[[object, str], list[str] | None]] = []


def register(resolver: Callable[[object, str], list[str] | None]) -> None:
    """``resolver(user, permission)`` returns the addresses for an account it knows, else None."""
    if resolver not in _resolvers:
        _resolvers.append(resolver)


def account_recipients(user, permission: str = "billing") -> list[str]:
    """The addresses to write to about ``user``'s account; ``permission`` names what the mail
    is about (a permission of ``apps.core.roles``: "billing", "webhooks"...)."""
    for resolver in _resolvers:
        found = resolver(user, permission)
        if found is not None:
            return found
    return [user.email]
