"""What a key may be used for, beside its limits: the models and the networks it is allowed.

Parsing is shared by the services (which refuse what cannot be applied) and the forms (which
show the same explanation beside the field); the gateway's checks are at the bottom, small
enough for every request.
"""

import ipaddress
import re
from functools import lru_cache

from django.utils.translation import gettext as _

from .errors import InvalidGuardrail

MAX_MODELS = 100
MAX_NETWORKS = 100
SEPARATORS = re.compile(r"[\s,]+")


def split(text: str | list | tuple | None) -> list[str]:
    """Items typed one per line or separated by commas or spaces, in order, without repeats."""
    if text is None:
        return []
    items = text if isinstance(text, list | tuple) else SEPARATORS.split(text)
    out: list[str] = []
    for item in items:
        item = str(item).strip()
        if item and item not in out:
            out.append(item)
    return out


def clean_models(value, *, known: set[str] | None = None) -> list[str]:
    """The model ids a key is allowed (empty: every model). ``known``: the catalog's model ids;
    an id not in it is refused (a typo would otherwise lock the key out of everything)."""
    models = split(value)
    if len(models) > MAX_MODELS:
        raise InvalidGuardrail(_("A key may name at most %(n)s models.") % {"n": MAX_MODELS})
    for model in models:
        if len(model) > 100:
            raise InvalidGuardrail(_("A model id has at most 100 characters."))
    if known is not None:
        unknown = [m for m in models if m not in known]
        if unknown:
            raise InvalidGuardrail(
                _("No such model: %(models)s. Use the ids GET /v1/models lists.")
                % {"models": ", ".join(unknown[:5])}
            )
    return models


def clean_networks(value) -> list[str]:
    """IPv4 and IPv6 addresses and CIDR networks (``203.0.113.7``, ``10.0.0.0/8``,
    ``2001:db8::/32``), written back in their canonical form; empty: any address."""
    networks: list[str] = []
    for item in split(value):
        try:
            network = ipaddress.ip_network(item, strict=True)
        except ValueError:
            try:
                loose = ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise InvalidGuardrail(
                    _(
                        "“%(item)s” is not an IP address or network; write e.g. 203.0.113.7, "
                        "10.0.0.0/8 or 2001:db8::/32."
                    )
                    % {"item": item[:60]}
                ) from None
            raise InvalidGuardrail(
                _("“%(item)s” has bits set after the prefix; the network is %(network)s.")
                % {"item": item[:60], "network": loose}
            ) from None
        text = str(network.network_address) if is_one_address(network) else str(network)
        if text not in networks:
            networks.append(text)
    if len(networks) > MAX_NETWORKS:
        raise InvalidGuardrail(
            _("A key may name at most %(n)s addresses or networks.") % {"n": MAX_NETWORKS}
        )
    return networks


def is_one_address(network) -> bool:
    return network.prefixlen == network.max_prefixlen


# --- the gateway's checks ---------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _parsed(networks: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(n, strict=False) for n in networks)


def address_allowed(address: str | None, networks) -> bool:
    """Whether ``address`` (the client's, as the trusted proxies define it) is in one of
    ``networks``. An IPv4 client seen as an IPv4-mapped IPv6 address (``::ffff:1.2.3.4``, on a
    dual-stack socket) is matched as IPv4."""
    if not networks:
        return True
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in _parsed(tuple(networks)))
