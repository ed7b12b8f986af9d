"""Which mail servers mailroom may connect to, decided before any packet is sent.

"Check connection" lets an administrator make the server open a TCP connection to any host and
port, which would turn it into a probe of the internal network (SSRF). So a host is resolved
once, every address it resolves to is checked, and the connection is then made to the checked
address, never to a name resolved again later (a DNS answer that changes in between cannot
redirect it).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass, field

from mailroom.transport.errors import BadArgument, ConnectFailed, HostNotAllowed

STANDARD_MAIL_PORTS = frozenset({143, 993, 25, 465, 587})
ENCRYPTIONS = frozenset({"ssl", "starttls", "none"})


@dataclass(frozen=True)
class ResolvedHost:
    """A host name and the address it was checked at, to connect to and to verify TLS against."""

    name: str
    address: str
    port: int


# RFC 6052 well-known NAT64 prefix: a DNS64 resolver maps every IPv4-only host into it, and the
# translator delivers to the IPv4 address in the last 32 bits.
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
# RFC 8215 local-use NAT64 prefix: the operator's own translator, which may reach its private
# IPv4 ranges, and the IPv4 address may sit at any RFC 6052 position. Not globally reachable.
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")
# Deprecated IPv4-compatible addresses (RFC 4291 §2.5.5.1), "::a.b.c.d".
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address a transition mechanism would deliver ``address``'s traffic to."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        # (server, client); ipaddress undoes the client's obfuscation. A packet may go
        # through either, so both are judged.
        found.extend(address.teredo)
    if address in _NAT64_WELL_KNOWN or address in _IPV4_COMPATIBLE:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def _is_internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a connection to ``address`` could reach loopback, a private network or the like.

    An IPv6 address that embeds an IPv4 address (mapped, 6to4, Teredo, NAT64, IPv4-compatible)
    is internal when that IPv4 address is; otherwise the IPv6 address is judged on its own.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64_LOCAL_USE:
            return True
        embedded = _embedded_ipv4(address)
        if any(_is_internal(ipv4) for ipv4 in embedded):
            return True
        if address.ipv4_mapped is not None or address in _NAT64_WELL_KNOWN:
            # Pure translations: the peer is the IPv4 host judged above. (Python calls the
            # prefixes themselves reserved or private, which would refuse every IPv4-only
            # host to a mailroom on an IPv6-only network behind DNS64.)
            return False
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


_tls_context: ssl.SSLContext | None = None
_tls_context_lock = threading.Lock()


def tls_client_context() -> ssl.SSLContext:
    """The TLS client context every IMAP and SMTP connection uses, built once per process.

    Building one loads the CA bundle (about 35 ms of CPU), so it is made on first use and
    shared; an SSLContext may be used by many threads as long as nobody changes it, so callers
    must not modify it. Certificates and host names are always verified. A CA bundle updated
    on disk is seen after a restart.
    """
    global _tls_context
    context = _tls_context
    if context is None:
        with _tls_context_lock:
            # Another thread may have built it while this one waited for the lock.
            context = _tls_context
            if context is None:
                context = ssl.create_default_context()
                _tls_context = context
    return context


def check_host_text(host: str) -> str:
    """Return ``host`` stripped, or raise when it cannot be a host name or address."""
    host = host.strip()
    if not host:
        raise BadArgument("enter the server's host name", field="host")
    if len(host) > 253 or any(ch in host for ch in "\r\n\0 /\\@"):
        raise BadArgument("this is not a valid host name", field="host")
    return host


def resolve_mail_host(
    host: str, port: int, *, allowed_hosts: list[str], allowed_ports: list[int]
) -> ResolvedHost:
    """Resolve ``host`` and return the address to connect to, or raise :class:`HostNotAllowed`.

    Loopback, private, link-local, multicast, reserved and metadata addresses are refused unless
    allow-listed. Each address the name resolves to is judged on its own: a name is trusted
    when it is allow-listed itself or every one of its addresses is; a trusted host may use any
    port, any other host only the standard mail ports and ``allowed_ports``.
    """
    host = check_host_text(host)
    if not 0 < port < 65536:
        raise BadArgument("the port must be between 1 and 65535", field="port")
    name = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    # "localhost." is "localhost": a trailing dot only marks the name as fully qualified.
    name = name.rstrip(".") or name
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise ConnectFailed(f"the host name {host!r} does not resolve", field="host") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    allowed = {entry.lower() for entry in allowed_hosts}
    host_allowed = name.lower() in allowed or all(a in allowed for a in addresses)
    if not host_allowed:
        if port not in STANDARD_MAIL_PORTS and port not in allowed_ports:
            raise HostNotAllowed(
                f"port {port} is not a mail port; use 143, 993, 25, 465 or 587",
                field="port",
            )
        internal = [a for a in addresses if _is_internal(ipaddress.ip_address(a.split("%")[0]))]
        if any(a not in allowed for a in internal):
            raise HostNotAllowed(
                "this host is on an internal network; an administrator must allow it with "
                "MAILROOM_ALLOWED_MAIL_HOSTS",
                field="host",
            )
    return ResolvedHost(name=name, address=addresses[0], port=port)


@dataclass(frozen=True)
class ServerSettings:
    """How to reach and log in to one mail server; built by the caller from a mailbox."""

    host: str
    port: int
    encryption: str  # "ssl", "starttls" or "none"
    username: str
    password: str = field(repr=False)
    timeout: float = 30.0
    allowed_hosts: tuple[str, ...] = ()
    allowed_ports: tuple[int, ...] = ()

    def resolve(self) -> ResolvedHost:
        """The checked address to connect to (see :func:`resolve_mail_host`)."""
        # Fail closed: an unknown value must never quietly mean "no encryption".
        if self.encryption not in ENCRYPTIONS:
            raise BadArgument(
                f"unknown encryption {self.encryption!r}; use ssl, starttls or none",
                field="encryption",
            )
        return resolve_mail_host(
            self.host,
            self.port,
            allowed_hosts=list(self.allowed_hosts),
            allowed_ports=list(self.allowed_ports),
        )
