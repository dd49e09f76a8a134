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


_details: list[Callable[[object], dict | None]] = []


def register_billing_details(resolver: Callable[[object], dict | None]) -> None:
    """``resolver(user)`` returns the billing details of an account it knows (``name``,
    ``address``, ``tax_id``; empty strings for what is not set), else None."""
    if resolver not in _details:
        _details.append(resolver)


def account_billing_details(user) -> dict | None:
    """What an invoice of the account names as its customer (an organization's billing name,
    address and tax id), or None: the payer types theirs at checkout."""
    for resolver in _details:
        found = resolver(user)
        if found is not None:
            return found
    return None
