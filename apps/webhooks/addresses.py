"""Which URLs may receive webhooks: http(s) only, no credentials in the URL, and a host whose
every address is public. Names are resolved here and each address is checked (loopback,
private, link-local, shared, reserved, multicast and unspecified ranges are refused, IPv4 and
IPv6, including IPv4 carried inside IPv6); the sender then connects to the addresses checked,
never resolving the name again (no DNS rebinding between the check and the request).
``WEBHOOK_ALLOW_PRIVATE_URLS`` lifts the address rule, for development and tests only."""

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from apps.core.errors import ServiceError

MAX_URL_LENGTH = 500
Resolver = Callable[..., list]


class UnsafeURL(ServiceError):
    code = "unsafe_url"


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line
    addresses: tuple[str, ...]  # every address the host resolved to, all checked


def address_is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6:
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is a.b.c.d
            return address_is_public(str(ip.ipv4_mapped))
        embedded = ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and not address_is_public(str(embedded)):
            return False
        if ip.is_site_local:
            return False
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


def url_parse(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of a URL a webhook may be sent to, or UnsafeURL."""
    url = (url or "").strip()
    if not url:
        raise UnsafeURL(_("Enter the URL that receives the webhooks."))
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURL(_("The URL may have at most %(max)s characters.") % {"max": MAX_URL_LENGTH})
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        raise UnsafeURL(_("The URL may not contain spaces or control characters."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(_("This is not a valid URL.")) from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeURL(_("The URL must start with https:// (or http://)."))
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL(_("The URL may not contain a user name or password."))
    host = parts.hostname or ""
    if not host:
        raise UnsafeURL(_("The URL needs a host name."))
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port or (443 if scheme == "https" else 80), path


def url_target(url: str, *, resolver: Resolver | None = None) -> Target:
    """Parse ``url``, resolve its host and check every address; UnsafeURL when any is not a
    public address (unless the setting allows private ones) or the name does not resolve."""
    scheme, host, port, path = url_parse(url)
    unresolved = _("The host name %(host)s could not be resolved.") % {"host": host}
    try:
        infos = (resolver or socket.getaddrinfo)(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeURL(unresolved) from exc
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise UnsafeURL(unresolved)
    if not settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        for address in addresses:
            if not address_is_public(address):
                raise UnsafeURL(
                    _(
                        "%(host)s is at %(address)s: webhooks are only sent to public internet "
                        "addresses (not loopback, private, link-local or reserved ones)."
                    )
                    % {"host": host, "address": address}
                )
    return Target(scheme, host, port, path, addresses)
