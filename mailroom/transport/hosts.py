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


def _is_internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


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
