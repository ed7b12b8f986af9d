"""The "Check connection" guard must not become a probe of the internal network (S07)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from mailroom.transport.errors import BadArgument, ConnectFailed, HostNotAllowed
from mailroom.transport.hosts import resolve_mail_host
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
