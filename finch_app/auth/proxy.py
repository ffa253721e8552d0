"""Which peers may name the user in a header (`FINCH_AUTH=header`)."""

from __future__ import annotations

import ipaddress
import logging
import time
from functools import lru_cache

log = logging.getLogger("finch.auth")

_warned: dict[str, float] = {}
WARN_EVERY_S = 60.0


class BadProxyList(ValueError):
    """FINCH_TRUSTED_PROXIES has an entry that is not an address or a CIDR."""


@lru_cache(maxsize=16)
def parse_networks(spec: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for part in spec.replace(";", ",").split(","):
        entry = part.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise BadProxyList(f"{entry!r} is not an IP address or CIDR (e.g. 10.0.0.0/8)") from exc
    return tuple(networks)


def is_trusted(peer: str, spec: str) -> bool:
    """True if the connecting address `peer` is inside one of the CIDRs in `spec`."""
    try:
        address = ipaddress.ip_address(peer.strip().strip("[]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    try:
        networks = parse_networks(spec)
    except BadProxyList:
        return False
    return any(address in network for network in networks)


def warn_untrusted(peer: str, header: str) -> None:
    """Log (at most once a minute per address) that a header from `peer` was ignored."""
    now = time.monotonic()
    if now - _warned.get(peer, -WARN_EVERY_S) >= WARN_EVERY_S:
        _warned[peer] = now
        log.warning(
            "Ignored the %s header from %s: that address is not in FINCH_TRUSTED_PROXIES", header, peer or "?"
        )
