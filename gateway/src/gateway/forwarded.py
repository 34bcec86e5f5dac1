"""Who the client is: established once, here, for every service behind.

The client's address is the peer's, unless the peer is one of ``trusted_proxies`` (the load
balancers in front of the gateway): then it is the right-most address of ``X-Forwarded-For``
that is not a trusted proxy. Each proxy appends the address it was called from, so the entries
right of that one were written by proxies the gateway trusts and that one by the last of them,
while everything left of it came from the client and proves nothing. An entry that is not an
address stops the walk at the trusted hop after it: a trusted proxy does not write one.

The proxy passes the address on signed (``servicekit.forwarding``), so that a service believes
it from the gateway alone; ``Gateway.handle`` keeps a request's id and trace context only from
a trusted proxy or a caller holding the platform's forwarding key (a service calling through
the gateway), and makes them otherwise.
"""

import ipaddress
from collections.abc import Iterable, Sequence

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Verdicts on peers kept at most (a cache: behind a balancer the peers are few; at the edge
#: they are many, and forgetting them all at once costs one parse each again).
_MAX_VERDICTS = 4096
_MAPPED_V4 = "::ffff:"


def normalised(text: str) -> str | None:
    """An address as the platform writes it (``2001:db8::1``, an IPv4-mapped IPv6 address as
    IPv4), from an entry that may carry a port (``203.0.113.7:4711``, ``[2001:db8::1]:443``);
    ``None`` when it is not an address."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        if text.startswith("["):
            host, closed, port = text[1:].partition("]")
            port = port.removeprefix(":")
        else:
            host, closed, port = text.partition(":")
        if not closed or not (port.isascii() and port.isdigit()):
            return None
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


class TrustedProxies:
    """The configured load balancers, and the client of a request that came through them."""

    def __init__(self, networks: Sequence[IPNetwork]) -> None:
        self.configured = bool(networks)
        self._single = frozenset(
            str(network.network_address) for network in networks if network.num_addresses == 1
        )
        self._networks = tuple(network for network in networks if network.num_addresses > 1)
        self._verdicts: dict[str, bool] = {}

    def trusts(self, peer: str | None) -> bool:
        """Whether ``peer`` (an address as the connection or a proxy gives it) is trusted."""
        if not self.configured or peer is None:
            return False
        if peer in self._single:
            return True
        verdict = self._verdicts.get(peer)
        if verdict is None:
            verdict = self._judge(peer)
            if len(self._verdicts) >= _MAX_VERDICTS:
                self._verdicts.clear()
            self._verdicts[peer] = verdict
        return verdict

    def _judge(self, peer: str) -> bool:
        address = normalised(peer)
        if address is None:
            return False
        if address in self._single:
            return True
        parsed = ipaddress.ip_address(address)
        return any(parsed in network for network in self._networks)

    def client_of(self, peer: str | None, forwarded_for: Iterable[bytes]) -> str | None:
        """The client's address, from a peer and the ``X-Forwarded-For`` values it sent."""
        if not self.trusts(peer):
            if peer is not None and peer.startswith(_MAPPED_V4):
                return normalised(peer) or peer
            return peer
        entries = [entry for value in forwarded_for for entry in value.split(b",")]
        client = normalised(peer) if peer is not None else None
        for entry in reversed(entries):
            address = normalised(entry.strip().decode("latin-1"))
            if address is None:
                break
            client = address
            if not self.trusts(address):
                break
        return client
