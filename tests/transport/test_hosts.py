"""The "Check connection" guard must not become a probe of the internal network (S07)."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator

import pytest

from mailroom.transport import hosts
from mailroom.transport.errors import BadArgument, ConnectFailed, HostNotAllowed
from mailroom.transport.hosts import resolve_mail_host, tls_client_context
from mailroom.transport.imap import ImapSession, ImapSettings


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "::1",
        "[::1]",
        "localhost",
        "localhost.",
        "0.0.0.0",
        "169.254.169.254",
        "10.0.0.1",
        "192.168.1.1",
        "172.16.0.1",
        "2130706433",
        "0x7f000001",
        "::ffff:127.0.0.1",
        "fe80::1",
    ],
)
def test_it_refuses_internal_addresses_unless_allow_listed(host: str) -> None:
    with pytest.raises(HostNotAllowed):
        resolve_mail_host(host, 993, allowed_hosts=[], allowed_ports=[])


# IPv6 addresses that carry an IPv4 address a gateway or tunnel delivers to: the embedded IPv4
# decides. (address, what it carries, internal?)
TRANSITION_FORMS = [
    ("::ffff:127.0.0.1", "IPv4-mapped loopback", True),
    ("::ffff:10.1.2.3", "IPv4-mapped private", True),
    ("::ffff:8.8.8.8", "IPv4-mapped public", False),
    ("2002:7f00:1::", "6to4 of 127.0.0.1", True),
    ("2002:a9fe:a9fe::1", "6to4 of 169.254.169.254", True),
    ("2002:c0a8:101::", "6to4 of 192.168.1.1", True),
    ("2002:808:808::", "6to4 of 8.8.8.8", False),
    # Teredo: server 65.54.227.120; the client is stored XOR-ed (ipaddress undoes it).
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo, client 127.0.0.1", True),
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "Teredo, client 10.0.0.1", True),
    ("2001:0:7f00:1:8000:63bf:f7f7:f7f7", "Teredo, server 127.0.0.1", True),
    # The whole of 2001::/32 is not globally reachable (IANA), whatever it carries.
    ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", "Teredo, public client 8.8.8.8", True),
    ("64:ff9b::7f00:1", "NAT64 well-known of 127.0.0.1", True),
    ("64:ff9b::a9fe:a9fe", "NAT64 well-known of 169.254.169.254", True),
    ("64:ff9b::a00:1", "NAT64 well-known of 10.0.0.1", True),
    ("64:ff9b::808:808", "NAT64 well-known of 8.8.8.8", False),
    # Local-use NAT64 (RFC 8215) is the operator's own translator and may reach its private
    # IPv4 ranges; the prefix length (and so the IPv4 position) is unknown: all internal.
    ("64:ff9b:1::7f00:1", "NAT64 local-use /96 of 127.0.0.1", True),
    ("64:ff9b:1:7f00:0:100::", "NAT64 local-use /48 of 127.0.0.1", True),
    ("64:ff9b:1::808:808", "NAT64 local-use /96 of 8.8.8.8", True),
    ("::7f00:1", "IPv4-compatible 127.0.0.1", True),
    ("::a00:1", "IPv4-compatible 10.0.0.1", True),
    ("::808:808", "IPv4-compatible 8.8.8.8 (deprecated form)", True),
    ("2606:4700:4700::1111", "native global IPv6", False),
]


@pytest.mark.parametrize(
    ("address", "internal"),
    [(a, i) for a, _, i in TRANSITION_FORMS],
    ids=[f"{a} ({what})" for a, what, _ in TRANSITION_FORMS],
)
def test_it_judges_the_ipv4_address_embedded_in_an_ipv6_address(
    address: str, internal: bool
) -> None:
    assert hosts._is_internal(ipaddress.IPv6Address(address)) is internal
    if internal:
        with pytest.raises(HostNotAllowed):
            resolve_mail_host(address, 993, allowed_hosts=[], allowed_ports=[])
    else:
        target = resolve_mail_host(address, 993, allowed_hosts=[], allowed_ports=[])
        assert ipaddress.ip_address(target.address) == ipaddress.ip_address(address)


def test_the_tls_client_context_is_built_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hosts, "_tls_context", None)
    calls = []
    real = ssl.create_default_context

    def slow_counting(*args: object, **kwargs: object) -> ssl.SSLContext:
        calls.append(args)
        started.wait(1)  # let every thread arrive before the first one finishes
        return real()

    started = threading.Event()
    monkeypatch.setattr(ssl, "create_default_context", slow_counting)
    contexts: list[ssl.SSLContext] = []
    threads = [
        threading.Thread(target=lambda: contexts.append(tls_client_context())) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    started.set()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len({id(c) for c in contexts}) == 1
    context = contexts[0]
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True


def test_it_allows_an_allow_listed_host_on_any_port() -> None:
    target = resolve_mail_host("127.0.0.1", 31143, allowed_hosts=["127.0.0.1"], allowed_ports=[])
    assert target.address == "127.0.0.1"
    assert target.port == 31143


@pytest.mark.parametrize("port", [22, 6379, 5432, 8080])
def test_it_refuses_ports_that_are_not_mail_ports(port: int) -> None:
    with pytest.raises(HostNotAllowed) as caught:
        resolve_mail_host("192.0.2.10", port, allowed_hosts=[], allowed_ports=[])
    assert caught.value.field == "port"


@pytest.mark.parametrize("host", ["", "a\r\nb", "host name", "x" * 300, "a\0b"])
def test_it_refuses_text_that_is_no_host_name(host: str) -> None:
    with pytest.raises(BadArgument):
        resolve_mail_host(host, 993, allowed_hosts=[], allowed_ports=[])


def test_it_names_the_host_field_when_a_name_does_not_resolve() -> None:
    with pytest.raises(ConnectFailed) as caught:
        resolve_mail_host("no-such-host.invalid", 993, allowed_hosts=[], allowed_ports=[])
    assert caught.value.field == "host"


@pytest.fixture
def listener() -> Iterator[tuple[int, list[object]]]:
    """A loopback listener that records every connection it accepts."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    accepted: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            accepted.append(conn)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join()
    server.close()


def test_it_sends_nothing_to_a_refused_host(listener: tuple[int, list[object]]) -> None:
    port, accepted = listener
    settings = ImapSettings(
        host="localhost", port=port, encryption="none", username="u", password="p"
    )
    with pytest.raises(HostNotAllowed):
        ImapSession(settings).__enter__()
    assert accepted == []


def test_it_refuses_an_unknown_encryption_instead_of_sending_in_clear(
    listener: tuple[int, list[object]],
) -> None:
    port, accepted = listener
    settings = ImapSettings(
        host="127.0.0.1",
        port=port,
        encryption="TLS",
        username="u",
        password="p",
        allowed_hosts=("127.0.0.1",),
    )
    with pytest.raises(BadArgument) as caught:
        ImapSession(settings).__enter__()
    assert caught.value.field == "encryption"
    assert accepted == []


def test_it_judges_every_address_a_name_resolves_to(monkeypatch: pytest.MonkeyPatch) -> None:
    # A name that resolves to the metadata address and to an allow-listed one.
    def two_addresses(*args: object, **kwargs: object) -> list[tuple[object, ...]]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 80)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", two_addresses)
    with pytest.raises(HostNotAllowed):
        resolve_mail_host("rebind.example", 80, allowed_hosts=["127.0.0.1"], allowed_ports=[])
    with pytest.raises(HostNotAllowed):
        resolve_mail_host("rebind.example", 993, allowed_hosts=["127.0.0.1"], allowed_ports=[])
