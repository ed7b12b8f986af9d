"""Rotating MAILROOM_CREDENTIAL_KEYS (threats.md S08): with a new key put first, the stored
passwords still decrypt; ``mailroom rekey`` encrypts them with it, after which the old key can
go; a password no key decrypts is named, never lost silently."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from mailroom.credentials import _fernet
from mailroom.mailboxes.actions import MailboxInput, save_mailbox
from mailroom.models import MailboxConnection

pytestmark = pytest.mark.django_db

OLD, NEW, OTHER = (Fernet.generate_key().decode() for _ in range(3))


Keys = Callable[..., None]


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[Keys]:
    """Set MAILROOM_CREDENTIAL_KEYS to the keys given, the first encrypting."""

    def use(*names: str) -> None:
        monkeypatch.setenv("MAILROOM_CREDENTIAL_KEYS", ",".join(names))
        _fernet.cache_clear()

    yield use
    _fernet.cache_clear()


def _mailbox(label: str, password: str) -> MailboxConnection:
    box = save_mailbox(
        MailboxInput(label=label, email=f"{label.lower()}@example.test", imap_host="imap.test"),
        password=password,
    )
    return box.connection


def test_rekey_moves_every_password_to_the_new_key(
    keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    keys(OLD)
    first, second = _mailbox("Support", "pw-support"), _mailbox("Sales", "pw-sales")
    keys(NEW, OLD)
    assert first.password == "pw-support"  # the old key still decrypts

    call_command("rekey")

    assert "2 passwords encrypted again" in capsys.readouterr().out
    keys(NEW)
    for connection, password in ((first, "pw-support"), (second, "pw-sales")):
        connection.refresh_from_db()
        assert connection.password == password
        assert password not in connection.password_encrypted


def test_rekey_names_a_password_no_key_decrypts_and_keeps_it(keys: Keys) -> None:
    keys(OTHER)
    lost = _mailbox("Archive", "pw-archive")
    keys(OLD)
    kept = _mailbox("Support", "pw-support")
    before = MailboxConnection.objects.get(pk=lost.pk).password_encrypted
    keys(NEW, OLD)

    with pytest.raises(CommandError, match="no key decrypts the password of: Archive"):
        call_command("rekey")

    assert MailboxConnection.objects.get(pk=lost.pk).password_encrypted == before
    keys(NEW)
    kept.refresh_from_db()
    assert kept.password == "pw-support"
