"""The operator CLI: mailbox add/check/list, config export/import, and the console script."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management.base import CommandError

from mailroom.models import (
    EmailTemplate,
    Folder,
    LeadSource,
    Mailbox,
    MailboxConnection,
    Message,
    ProcessingRecord,
    SalesChannel,
)
from tests.conftest import run_cli
from tests.faults.processes import Installation
from tests.servers.fixtures import ImapAccount
from tests.transport.peers import ImapPeer

pytestmark = pytest.mark.django_db


def test_it_stores_the_password_encrypted_and_never_prints_it(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount
) -> None:
    mailbox = make_mailbox()
    connection = MailboxConnection.objects.get(mailbox=mailbox)
    assert connection.password == imap_account.password
    assert imap_account.password not in connection.password_encrypted
    assert imap_account.password not in run_cli("mailbox", "list")
    assert imap_account.password not in run_cli("config", "export")


def test_it_lists_the_server_folders_when_the_connection_works(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount
) -> None:
    imap_account.create_folder("Archive")
    mailbox = make_mailbox()

    out = run_cli("mailbox", "check", str(mailbox.pk))

    assert "connection works" in out
    assert " * INBOX" in out and "   Archive" in out
    recorded = dict(Folder.objects.filter(mailbox=mailbox).values_list("name", "selected"))
    assert recorded["INBOX"] is True  # checking keeps the selection
    assert recorded["Archive"] is False
    assert {name for name, selected in recorded.items() if selected} == {"INBOX"}


def test_it_names_the_password_field_when_the_login_is_refused(
    make_mailbox: Callable[..., Mailbox],
) -> None:
    mailbox = make_mailbox()
    connection = mailbox.connection
    connection.set_password("wrong-password")
    connection.save()

    with pytest.raises(CommandError, match=r"^password: .*refused"):
        run_cli("mailbox", "check", str(mailbox.pk))


def test_it_names_the_host_field_when_the_port_is_closed(
    make_mailbox: Callable[..., Mailbox],
) -> None:
    mailbox = make_mailbox()
    MailboxConnection.objects.filter(mailbox=mailbox).update(imap_port=1)

    with pytest.raises(CommandError, match=r"^host: .*refused the connection"):
        run_cli("mailbox", "check", str(mailbox.pk))


def test_it_refuses_an_internal_host_that_is_not_allow_listed(
    make_mailbox: Callable[..., Mailbox],
) -> None:
    mailbox = make_mailbox()
    MailboxConnection.objects.filter(mailbox=mailbox).update(
        imap_host="169.254.169.254", imap_port=993
    )

    with pytest.raises(CommandError, match=r"^host: .*internal network"):
        run_cli("mailbox", "check", str(mailbox.pk))


def test_it_refuses_a_second_mailbox_with_the_same_label(
    make_mailbox: Callable[..., Mailbox],
) -> None:
    make_mailbox()
    with pytest.raises(CommandError, match="--label"):
        make_mailbox()


CONFIG = {
    "format": "mailroom-config",
    "version": 1,
    "lead_sources": [
        {"name": "Website", "active": True, "default": True},
        {"name": "Email", "active": True, "default": False},
        {"name": "Fax", "active": False, "default": False},
    ],
    "sales_channels": [{"name": "Direct", "active": True}],
    "templates": [
        {
            "name": "ack",
            "type": "text",
            "default_language": "en",
            "translations": [
                {"language": "de", "subject": "AW: {{ subject }}", "body": "Danke."},
                {"language": "en", "subject": "Re: {{ subject }}", "body": "Thanks."},
            ],
        }
    ],
    "mailboxes": [
        {
            "label": "Sales",
            "email": "sales@example.test",
            "account_type": "other",
            "imap": {
                "enabled": True,
                "host": "imap.example.test",
                "port": 993,
                "encryption": "ssl",
            },
            "smtp": {
                "enabled": True,
                "host": "smtp.example.test",
                "port": 465,
                "encryption": "ssl",
            },
            "username": "sales",
            "processor": {"kind": "lead", "settings": {"source": "Email"}},
            "history": {"mode": "days", "days": 30, "convert": False},
            "folders": [{"name": "INBOX", "selected": True}, {"name": "Spam", "selected": False}],
            "access": {"users": [], "roles": ["Sales team"]},
            "rules": [
                {
                    "name": "Welcome",
                    "active": True,
                    "template": "ack",
                    "conditions": [{"field": "subject", "operator": "contains", "value": "price"}],
                }
            ],
        }
    ],
}


def test_it_imports_a_configuration_idempotently_and_exports_it_back(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(CONFIG))

    run_cli("config", "import", str(path))
    first = json.loads(run_cli("config", "export"))
    run_cli("config", "import", str(path))
    second = json.loads(run_cli("config", "export"))

    assert first == second == CONFIG
    assert Mailbox.objects.count() == 1
    assert EmailTemplate.objects.get().translations.count() == 2


def test_it_imports_lead_sources_given_by_name_as_older_exports_list_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**CONFIG, "lead_sources": ["Phone", "Email"], "mailboxes": []}))
    run_cli("config", "import", str(path))
    sources = json.loads(run_cli("config", "export"))["lead_sources"]
    assert sources == [
        {"name": "Phone", "active": True, "default": False},
        {"name": "Email", "active": True, "default": False},
    ]


@pytest.mark.parametrize(
    ("sources", "where"),
    [
        ([{"name": "A", "default": True}, {"name": "B", "default": True}], "lead_sources"),
        ([{"name": "A", "active": False, "default": True}], r"lead_sources\[0\]\.default"),
        ([{"name": ""}], r"lead_sources\[0\]\.name"),
        ([{"name": "A", "active": "yes"}], r"lead_sources\[0\]\.active"),
    ],
)
def test_it_refuses_lead_sources_it_cannot_keep(
    tmp_path: Path, sources: list[dict[str, object]], where: str
) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**CONFIG, "lead_sources": sources}))
    with pytest.raises(CommandError, match=where):
        run_cli("config", "import", str(path))
    assert not LeadSource.objects.exists()


def test_it_changes_nothing_when_the_document_has_an_error(tmp_path: Path) -> None:
    bad = json.loads(json.dumps(CONFIG))
    bad["mailboxes"][0]["rules"][0]["template"] = "missing"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))

    with pytest.raises(CommandError, match=r"mailboxes\[0\]\.rules\[0\]\.template"):
        run_cli("config", "import", str(path))
    assert not LeadSource.objects.exists()
    assert not Mailbox.objects.exists()


def test_it_says_which_file_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(CommandError, match="not valid JSON"):
        run_cli("config", "import", str(path))


def test_the_console_script_runs_django_commands_with_mailroom_settings(tmp_path: Path) -> None:
    # The data directory, and the suite's database shape: its own SQLite file there, or its
    # own PostgreSQL database when the suite runs on PostgreSQL.
    site = Installation(tmp_path)
    env = site.env
    script = Path(sys.executable).with_name("mailroom")
    migrate = subprocess.run(
        [script, "migrate"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert migrate.returncode == 0, migrate.stderr
    listed = subprocess.run(
        [script, "mailbox", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == ""
    # migrate created the tables in the installation's database, not anywhere else.
    assert site.scalar("SELECT count(*) FROM mailroom_mailbox") == 0
    assert site.postgres or (tmp_path / "mailroom.sqlite3").exists()


def test_it_names_the_encryption_field_when_tls_fails(
    make_mailbox: Callable[..., Mailbox],
) -> None:
    mailbox = make_mailbox()
    # The test Dovecot speaks plain IMAP: a TLS handshake with it must fail, never fall back.
    MailboxConnection.objects.filter(mailbox=mailbox).update(imap_encryption="ssl")
    with pytest.raises(CommandError, match=r"^encryption: TLS handshake failed"):
        run_cli("mailbox", "check", str(mailbox.pk))


def test_it_refuses_starttls_when_the_server_does_not_offer_it(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount
) -> None:
    mailbox = make_mailbox()
    MailboxConnection.objects.filter(mailbox=mailbox).update(imap_encryption="starttls")
    with pytest.raises(CommandError, match=r"^encryption: .*does not offer STARTTLS"):
        run_cli("mailbox", "check", str(mailbox.pk))
    # The password was never sent in clear: Dovecot saw no login attempt for the user.
    assert imap_account.server.login_count(imap_account.username) == 0
    assert imap_account.server.auth_failure_count(imap_account.username) == 0


def test_it_refuses_a_folder_name_that_would_inject_an_imap_command(
    imap_account: ImapAccount,
) -> None:
    with pytest.raises(CommandError, match="--folder: the folder contains a line break"):
        run_cli(
            "mailbox", "add", "--label", "X", "--email", "x@example.test",
            "--imap-host", imap_account.host, "--imap-port", str(imap_account.port),
            "--imap-encryption", "none", "--username", imap_account.username,
            "--folder", "INBOX\r\nX1 CREATE Injected",
        )  # fmt: skip
    assert not Mailbox.objects.exists()
    client = imap_account.client()
    try:
        names = [name for _flags, _sep, name in client.list_folders()]
    finally:
        client.logout()
    assert "Injected" not in names


def test_it_keeps_what_a_document_leaves_out_when_it_names_an_existing_mailbox(
    tmp_path: Path,
) -> None:
    full = tmp_path / "full.json"
    full.write_text(json.dumps(CONFIG))
    run_cli("config", "import", str(full))
    partial = {
        "format": "mailroom-config",
        "version": 1,
        "mailboxes": [
            {
                "label": "Sales",
                "email": "sales@example.test",
                "rules": [{"name": "Second", "template": "ack", "conditions": []}],
            }
        ],
    }
    path = tmp_path / "partial.json"
    path.write_text(json.dumps(partial))

    run_cli("config", "import", str(path))

    (mailbox,) = json.loads(run_cli("config", "export"))["mailboxes"]
    expected = CONFIG["mailboxes"][0]  # type: ignore[index]
    assert {k: v for k, v in mailbox.items() if k != "rules"} == {
        k: v for k, v in expected.items() if k != "rules"
    }
    assert [r["name"] for r in mailbox["rules"]] == ["Second", "Welcome"]


def test_it_names_the_smtp_host_when_the_smtp_server_is_unreachable(
    make_mailbox: Callable[..., Mailbox],
) -> None:
    mailbox = make_mailbox()
    MailboxConnection.objects.filter(mailbox=mailbox).update(smtp_port=1)
    with pytest.raises(CommandError, match=r"^smtp host: .*"):
        run_cli("mailbox", "check", str(mailbox.pk))


def test_it_reports_that_the_smtp_login_was_accepted(
    make_mailbox: Callable[..., Mailbox],
) -> None:
    out = run_cli("mailbox", "check", str(make_mailbox().pk))
    assert out.startswith("connection works; SMTP login accepted;")


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("imap", "encryption"), "TLS", r"mailboxes\[0\]\.imap\.encryption: must be one of"),
        (("smtp", "port"), "abc", r"mailboxes\[0\]\.smtp\.port: must be a whole number"),
        (("imap", "port"), 70000, r"mailboxes\[0\]\.imap\.port"),
        (("imap", "host"), "bad host", r"mailboxes\[0\]\.imap\.host: this is not a valid host"),
        (("email",), "not-an-email", r"mailboxes\[0\]\.email: must be an email address"),
        (("processor", "settings", "source"), "Fax", r"processor\.settings\.source"),
        (("history", "mode"), "some", r"mailboxes\[0\]\.history\.mode: must be one of"),
        (("history", "days"), 0, r"mailboxes\[0\]\.history\.days: must be a whole number"),
        (("history", "convert"), "yes", r"mailboxes\[0\]\.history\.convert: must be true"),
    ],
)
def test_it_refuses_a_document_with_a_bad_value_and_names_its_path(
    tmp_path: Path, path: tuple[str, ...], value: object, message: str
) -> None:
    bad = json.loads(json.dumps(CONFIG))
    target = bad["mailboxes"][0]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(bad))

    with pytest.raises(CommandError, match=message):
        run_cli("config", "import", str(file))
    assert not Mailbox.objects.exists()
    assert not LeadSource.objects.exists()


def test_a_mailbox_whose_password_cannot_be_decrypted_does_not_stop_the_others(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount
) -> None:
    broken = make_mailbox(label="Broken")
    working = make_mailbox(label="Working")
    MailboxConnection.objects.filter(mailbox=broken).update(password_encrypted="gAAAAA-bad")
    imap_account.append("INBOX", b"Subject: hi\r\nFrom: a@customer.test\r\n\r\nhello\r\n")

    with pytest.raises(CommandError, match="cannot be decrypted"):
        run_cli("sync", "--once")

    broken.refresh_from_db()
    assert broken.status == "auth_error"
    assert Message.objects.filter(mailbox=working).count() == 1
    assert ProcessingRecord.objects.get().state == "done"


def test_it_refuses_an_import_that_would_send_the_stored_password_to_another_server(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount, tmp_path: Path
) -> None:
    mailbox = make_mailbox()
    doc = json.loads(run_cli("config", "export"))
    with ImapPeer() as other:
        # A document that moves the mailbox to another server: no password can come with it.
        doc["mailboxes"][0]["imap"]["port"] = other.port
        path = tmp_path / "moved.json"
        path.write_text(json.dumps(doc))
        try:
            run_cli("config", "import", str(path))
        except CommandError as exc:
            refused: CommandError | None = exc
        else:
            refused = None
        with contextlib.suppress(CommandError):
            run_cli("sync", "--once", "--mailbox", str(mailbox.pk))

        # Before the fix the import kept the stored password, and the next sync logged in to
        # the other server with it.
        assert not any(imap_account.password.encode() in line for line in other.commands)
    assert refused is not None
    assert re.search(r"^nothing imported; mailboxes\[0\]\.imap\.port: ", str(refused))
    assert "password" in str(refused)
    connection = MailboxConnection.objects.get(mailbox=mailbox)
    assert connection.imap_port == imap_account.port
    assert connection.password == imap_account.password


def _import(tmp_path: Path, doc: dict[str, object]) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    return run_cli("config", "import", str(path))


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        (("smtp", "host"), "smtp.elsewhere.test", r"mailboxes\[0\]\.smtp\.host"),
        (("imap", "encryption"), "none", r"mailboxes\[0\]\.imap\.encryption"),
        (("username",), "someone-else", r"mailboxes\[0\]\.username"),
    ],
)
def test_it_refuses_any_server_change_that_would_reuse_the_stored_password(
    tmp_path: Path, path: tuple[str, ...], value: object, where: str
) -> None:
    _import(tmp_path, CONFIG)
    mailbox = Mailbox.objects.get()
    connection = mailbox.connection
    connection.set_password("stored-pw")
    connection.save()
    changed = json.loads(json.dumps(CONFIG))
    target = changed["mailboxes"][0]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value

    with pytest.raises(CommandError, match=where + ": changes the server or login"):
        _import(tmp_path, changed)
    assert json.loads(run_cli("config", "export")) == CONFIG
    assert MailboxConnection.objects.get(mailbox=mailbox).password == "stored-pw"


def test_it_connects_a_new_account_when_no_password_is_stored(tmp_path: Path) -> None:
    _import(tmp_path, CONFIG)
    before = Mailbox.objects.get()
    moved = json.loads(json.dumps(CONFIG))
    moved["mailboxes"][0]["imap"]["host"] = "imap.elsewhere.test"
    moved["mailboxes"][0]["history"] = {"mode": "all", "convert": True}

    _import(tmp_path, moved)

    after = Mailbox.objects.get()
    assert after.account_version == before.account_version + 1
    assert (after.history_mode, after.history_days, after.history_convert) == ("all", None, True)
    assert not after.connection.has_password


def test_it_never_moves_the_history_cut_off_of_the_same_account(tmp_path: Path) -> None:
    _import(tmp_path, CONFIG)
    before = Mailbox.objects.get()
    again = json.loads(json.dumps(CONFIG))
    again["mailboxes"][0]["history"] = {"mode": "all"}

    _import(tmp_path, again)

    after = Mailbox.objects.get()
    assert (after.history_mode, after.history_days) == ("days", 30)
    assert after.account_started_at == before.account_started_at
    assert after.account_version == before.account_version


def test_sync_once_says_so_when_another_sync_holds_a_folder(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount
) -> None:
    from datetime import timedelta

    from mailroom.leases import new_owner
    from mailroom.sync.folder import FOLDER_LEASE

    mailbox = make_mailbox()
    imap_account.append("INBOX", b"From: a@customer.test\r\nSubject: held\r\n\r\nhi\r\n")
    # What a sync killed a moment ago leaves behind: its lease, for at most a lease's time.
    assert FOLDER_LEASE.claim(mailbox.folders.get().pk, new_owner(), timedelta(seconds=60))

    report = json.loads(run_cli("sync", "--once").strip().splitlines()[-1])

    assert report["stored"] == 0
    assert report["skipped"] == [f"{mailbox.pk}:INBOX"]


def test_the_import_progress_bar_redraws_one_line_and_ends_it() -> None:
    from io import StringIO

    from mailroom.management.commands.sync import ProgressBar

    out = StringIO()
    bar = ProgressBar(out)
    bar(7, 0, 2000)
    bar.last = 0.0  # as if the redraw interval had passed
    bar(7, 1000, 1000)
    bar(7, 2000, 0)

    lines = out.getvalue().split("\r")[1:]
    assert lines[0].startswith("  folder 7  [------------------------------]  0 of 2,000")
    assert lines[1].startswith("  folder 7  [###############---------------]  1,000 of 2,000")
    assert lines[2] == "  folder 7  [##############################]  2,000 of 2,000 stored \n"


LEAD_MAILBOX = (
    "mailbox", "add", "--label", "Sales", "--email", "sales@example.test",
    "--imap-host", "imap.example.test", "--imap-port", "993", "--imap-encryption", "ssl",
    "--username", "sales", "--processor", "lead",
)  # fmt: skip


def test_it_refuses_convert_to_lead_without_an_active_sales_channel() -> None:
    with pytest.raises(CommandError) as refused:
        run_cli(*LEAD_MAILBOX)
    assert str(refused.value).startswith(
        "--processor lead: Convert to Lead needs an active sales channel: activate one on the "
        "Sales channels page (/sales-channels/"
    )
    assert not Mailbox.objects.exists()

    SalesChannel.objects.create(name="Direct", active=False)
    with pytest.raises(CommandError, match="needs an active sales channel"):
        run_cli(*LEAD_MAILBOX)
    SalesChannel.objects.update(active=True)
    mailbox_id = int(run_cli(*LEAD_MAILBOX).strip())
    assert Mailbox.objects.get(pk=mailbox_id).processor_kind == "lead"


def test_it_refuses_an_inactive_lead_source() -> None:
    SalesChannel.objects.create(name="Direct")
    LeadSource.objects.create(name="Partner", active=False)
    with pytest.raises(CommandError, match="source: the lead source 'Partner' is inactive"):
        run_cli(*LEAD_MAILBOX, "--processor-setting", "source=Partner")
    assert not Mailbox.objects.exists()


def test_config_import_refuses_convert_to_lead_without_an_active_channel(
    tmp_path: Path,
) -> None:
    doc = json.loads(json.dumps(CONFIG))
    doc["sales_channels"] = [{"name": "Direct", "active": False}]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))

    with pytest.raises(CommandError) as refused:
        run_cli("config", "import", str(path))
    assert "mailboxes[0].processor.kind: Convert to Lead needs an active sales channel" in str(
        refused.value
    )
    assert "/sales-channels/" in str(refused.value)
    assert not Mailbox.objects.exists() and not SalesChannel.objects.exists()


def test_config_import_keeps_a_mailbox_already_converting_to_leads(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(CONFIG))
    run_cli("config", "import", str(path))
    SalesChannel.objects.update(active=False)

    # Exported and imported back unchanged while no channel is active: still accepted.
    path.write_text(run_cli("config", "export"))
    run_cli("config", "import", str(path))
    assert Mailbox.objects.get().processor_kind == "lead"


def test_mailbox_edit_refuses_convert_to_lead_without_an_active_channel() -> None:
    SalesChannel.objects.create(name="Direct")
    LeadSource.objects.create(name="Email")
    mailbox_id = run_cli(*LEAD_MAILBOX[:-2], "--processor", "case").strip()
    SalesChannel.objects.update(active=False)
    with pytest.raises(CommandError, match=r"^--processor lead: Convert to Lead needs an active"):
        run_cli("mailbox", "edit", mailbox_id, "--processor", "lead")
    assert Mailbox.objects.get().processor_kind == "case"

    SalesChannel.objects.update(active=True)
    run_cli(
        "mailbox", "edit", mailbox_id, "--processor", "lead", "--processor-setting", "source=Email"
    )
    SalesChannel.objects.update(active=False)
    # Already converting to Leads: it keeps that, and its settings may still change.
    run_cli("mailbox", "edit", mailbox_id, "--processor", "lead")
    mailbox = Mailbox.objects.get()
    assert (mailbox.processor_kind, mailbox.processor_settings) == ("lead", {})
    with pytest.raises(CommandError, match="there is no mailbox 999"):
        run_cli("mailbox", "edit", "999", "--processor", "none")
