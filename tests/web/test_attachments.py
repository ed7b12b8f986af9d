"""Attachment downloads: exact bytes, safe headers whatever the sender named the file, access
through the message, no server error for a part that is gone; the Case and Lead pages link
them."""

from __future__ import annotations

import base64
import binascii
import itertools
import re
from email.message import EmailMessage

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from mailroom.mailboxes.actions import MailboxInput, save_mailbox, set_access, set_folders
from mailroom.mime.parts import find_part
from mailroom.models import (
    Attachment,
    Case,
    Conversation,
    Lead,
    Mailbox,
    Message,
    RawMessage,
)
from mailroom.web.downloads import attachment_disposition, safe_filename
from tests.storing import store_one

_uids = itertools.count(1)

# A PDF header and every byte value: any newline, charset or transfer decoding slip shows.
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) * 4 + b"\r\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(255, -1, -1)) * 3
# Non-ASCII, "=" signs, trailing spaces and a line longer than 76 characters: soft breaks.
CSV = (
    "Straße;Menge=Anzahl;Preis \r\nÜberweisung;3;12,50 € \r\n" + "Lange Zeile;" + "x" * 120 + "\r\n"
).encode()


def _base64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n").rstrip(b"\r\n")


def _quoted_printable(data: bytes) -> bytes:
    encoded = binascii.b2a_qp(data)
    assert binascii.a2b_qp(encoded) == data
    # The line break before the next delimiter belongs to the delimiter (RFC 2046 5.1.1),
    # so the data's own last line break stays in the part.
    return encoded


def _mail(message_id: str) -> bytes:
    """A mail as a mail client sends it: the report nested with the text (part 1.2), a
    base64 photo (2) and a quoted-printable table with a non-ASCII RFC 2231 name (3)."""
    return b"\r\n".join(
        [
            b"From: Ann Buyer <ann@customer.test>",
            b"To: support@example.test",
            b"Subject: Printer broken, report attached",
            f"Message-ID: <{message_id}@customer.test>".encode(),
            b"Date: Tue, 01 Dec 2026 09:30:00 +0000",
            b"MIME-Version: 1.0",
            b'Content-Type: multipart/mixed; boundary="outer-b"',
            b"",
            b"This is a multi-part message in MIME format.",
            b"--outer-b",
            b'Content-Type: multipart/mixed; boundary="inner-b"',
            b"",
            b"--inner-b",
            b"Content-Type: text/plain; charset=utf-8",
            b"",
            b"The printer is broken; the service report is attached.",
            b"--inner-b",
            b'Content-Type: application/pdf; name="report.pdf"',
            b'Content-Disposition: attachment; filename="report.pdf"',
            b"Content-Transfer-Encoding: base64",
            b"",
            _base64(PDF),
            b"--inner-b--",
            b"",
            b"--outer-b",
            b"Content-Type: image/png",
            b'Content-Disposition: attachment; filename="photo.png"',
            b"Content-Transfer-Encoding: base64",
            b"",
            _base64(PNG),
            b"--outer-b",
            b"Content-Type: text/csv; charset=utf-8",
            b"Content-Disposition: attachment;",
            b" filename*=UTF-8''%C3%9Cber%20Stra%C3%9Fe.csv",
            b"Content-Transfer-Encoding: quoted-printable",
            b"",
            _quoted_printable(CSV),
            b"--outer-b--",
            b"",
        ]
    )


HOSTILE_NAMES = [
    b'filename="../../etc/passwd"',
    b"filename*=UTF-8''a%0D%0ASet-Cookie%3A%20x%3D1",
    b"filename*=UTF-8''%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E.html",
    b"filename*=UTF-8''%C3%9Cber%20Stra%C3%9Fe.pdf",
    b"",
]
HOSTILE_BODY = b"<html><script>alert(document.cookie)</script></html>"


def _hostile_mail() -> bytes:
    """One part per hostile name, each declaring a type a browser would render."""
    lines = [
        b"From: Mallory <mallory@attacker.test>",
        b"To: support@example.test",
        b"Subject: Files",
        b"Message-ID: <hostile@attacker.test>",
        b"MIME-Version: 1.0",
        b'Content-Type: multipart/mixed; boundary="b"',
        b"",
        b"--b",
        b"Content-Type: text/plain",
        b"",
        b"See the files.",
    ]
    for name in HOSTILE_NAMES:
        disposition = b"attachment; " + name if name else b"attachment"
        lines += [
            b"--b",
            b"Content-Type: text/html",
            b"Content-Disposition: " + disposition,
            b"",
            HOSTILE_BODY,
        ]
    return b"\r\n".join([*lines, b"--b--", b""])


def _mailbox(label: str) -> Mailbox:
    box = save_mailbox(
        MailboxInput(label=label, email=f"{label.lower()}@example.test"), password=""
    )
    set_folders(box, known=["INBOX"], selected=["INBOX"])
    return box


def _stored(box: Mailbox, raw: bytes) -> Message:
    """Store raw the way sync does (tests/pipeline/helpers.py ``stored``)."""
    message = store_one(box.folders.get(), next(_uids), raw)
    assert message is not None
    return message


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _attachment(message: Message, part: str) -> Attachment:
    return message.attachments.get(part=part)


@pytest.fixture
def support() -> Mailbox:
    return _mailbox("Support")


@pytest.fixture
def member(support: Mailbox) -> User:
    user = User.objects.create_user("bob", password="x")
    set_access(support, user_ids=[user.pk], group_ids=[])
    return user


@pytest.fixture
def stranger() -> User:
    return User.objects.create_user("charlie", password="x")


@pytest.fixture
def mail(support: Mailbox) -> Message:
    return _stored(support, _mail("m1"))


# The name as sent -> the Content-Disposition value.
DISPOSITIONS = [
    ("report.pdf", "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"),
    ("../../etc/passwd", "attachment; filename=\"etc_passwd\"; filename*=UTF-8''etc_passwd"),
    (
        "..\\..\\Windows\\win.ini",
        "attachment; filename=\"Windows_win.ini\"; filename*=UTF-8''Windows_win.ini",
    ),
    (
        "a\r\nSet-Cookie: x=1",
        "attachment; filename=\"a Set-Cookie: x=1\"; filename*=UTF-8''a%20Set-Cookie%3A%20x%3D1",
    ),
    (
        '"><script>alert(1)</script>',
        'attachment; filename="><script>alert(1)<_script>"; '
        "filename*=UTF-8''%3E%3Cscript%3Ealert%281%29%3C_script%3E",
    ),
    (
        "Über Straße.pdf",
        "attachment; filename=\"Uber Stra_e.pdf\"; filename*=UTF-8''%C3%9Cber%20Stra%C3%9Fe.pdf",
    ),
    ("", "attachment; filename=\"attachment\"; filename*=UTF-8''attachment"),
    ("..", "attachment; filename=\"attachment\"; filename*=UTF-8''attachment"),
    (" \t\r\n", "attachment; filename=\"attachment\"; filename*=UTF-8''attachment"),
    (".bashrc", "attachment; filename=\"bashrc\"; filename*=UTF-8''bashrc"),
    ('say "hi".txt', "attachment; filename=\"say hi.txt\"; filename*=UTF-8''say%20hi.txt"),
    # A right-to-left override would show "invoice\u202efdp.exe" as "invoiceexe.pdf".
    (
        "invoice\u202efdp.exe",
        "attachment; filename=\"invoicefdp.exe\"; filename*=UTF-8''invoicefdp.exe",
    ),
    ("nul\x00\x7f.txt", "attachment; filename=\"nul.txt\"; filename*=UTF-8''nul.txt"),
    ("100% sure.pdf", "attachment; filename=\"100_ sure.pdf\"; filename*=UTF-8''100%25%20sure.pdf"),
    (
        "日本語.txt",
        "attachment; filename=\"___.txt\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.txt",
    ),
]


@pytest.mark.parametrize(("name", "expected"), DISPOSITIONS)
def test_it_builds_a_safe_content_disposition(name: str, expected: str) -> None:
    value = attachment_disposition(name)
    assert value == expected
    assert value.isascii() and value.isprintable()
    # A standard RFC 2231 decoder reads the full name back from filename* (RFC 5987 is its
    # HTTP profile); the email package would prefer the plain fallback, browsers do not.
    extended = value.split("; ")[-1]
    assert extended.startswith("filename*=UTF-8''")
    parsed = EmailMessage()
    parsed["Content-Disposition"] = "attachment; " + extended
    assert parsed.get_filename() == safe_filename(name)


def test_it_keeps_long_names_short_with_their_extension() -> None:
    name = safe_filename("x" * 500 + ".pdf")
    assert len(name) == 200 and name.endswith("x.pdf")


def test_it_finds_a_part_by_its_number() -> None:
    raw = _mail("parts")
    found = {path: find_part(raw, path) for path in ("1.1", "1.2", "2", "3", "1", "4", "")}
    assert found["1.2"] is not None and found["1.2"].payload() == (PDF, None)
    assert found["2"] is not None and found["2"].payload() == (PNG, None)
    assert found["3"] is not None and found["3"].payload() == (CSV, None)
    assert found["1.1"] is not None and found["1.1"].content_type == "text/plain"
    # Containers and numbers the message does not have are no part.
    assert found["1"] is None and found["4"] is None and found[""] is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("part", "data", "filename"),
    [
        ("1.2", PDF, "report.pdf"),
        ("2", PNG, "photo.png"),
        ("3", CSV, "Über Straße.csv"),
    ],
    ids=["nested-base64", "base64", "quoted-printable"],
)
def test_it_downloads_the_exact_bytes_of_an_attachment(
    member: User, mail: Message, part: str, data: bytes, filename: str
) -> None:
    attachment = _attachment(mail, part)
    assert attachment.filename == filename and attachment.size == len(data)

    response = _client(member).get(f"/attachments/{attachment.pk}/")

    assert response.status_code == 200
    assert response.content == data
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == attachment_disposition(filename)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert response["Cache-Control"] == "private, no-store"


@pytest.mark.django_db
def test_it_names_a_non_ascii_file_in_both_parameters(member: User, mail: Message) -> None:
    response = _client(member).get(f"/attachments/{_attachment(mail, '3').pk}/")
    assert response["Content-Disposition"] == (
        "attachment; filename=\"Uber Stra_e.csv\"; filename*=UTF-8''%C3%9Cber%20Stra%C3%9Fe.csv"
    )


@pytest.mark.django_db
def test_it_gives_safe_headers_for_hostile_file_names(member: User, support: Mailbox) -> None:
    message = _stored(support, _hostile_mail())
    attachments = list(message.attachments.order_by("part"))
    assert [a.part for a in attachments] == ["2", "3", "4", "5", "6"]
    client = _client(member)
    dispositions = []
    for attachment in attachments:
        response = client.get(f"/attachments/{attachment.pk}/")
        assert response.status_code == 200
        assert response.content == HOSTILE_BODY
        # The sender said text/html; the browser is told nothing it could render.
        assert response["Content-Type"] == "application/octet-stream"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
        assert "Set-Cookie" not in response and not response.cookies
        dispositions.append(response["Content-Disposition"])
    assert all(value.isascii() and value.isprintable() for value in dispositions)
    assert [re.findall(r'filename="([^"]*)"', value) for value in dispositions] == [
        ["etc_passwd"],
        # The store already dropped the CR/LF the sender encoded in the name.
        [safe_filename(attachments[1].filename)],
        ["><script>alert(1)<_script>.html"],
        ["Uber Stra_e.pdf"],
        ["attachment"],
    ]
    assert "\r" not in attachments[1].filename and "Set-Cookie" in attachments[1].filename


@pytest.mark.django_db
def test_it_gives_safe_headers_for_a_stored_name_with_a_line_break(
    member: User, mail: Message
) -> None:
    # Rows stored by an older parser may hold anything; the header must not care.
    attachment = _attachment(mail, "2")
    Attachment.objects.filter(pk=attachment.pk).update(filename="a\r\nSet-Cookie: x=1")
    response = _client(member).get(f"/attachments/{attachment.pk}/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        "attachment; filename=\"a Set-Cookie: x=1\"; filename*=UTF-8''a%20Set-Cookie%3A%20x%3D1"
    )
    assert "Set-Cookie" not in response and not response.cookies


@pytest.mark.django_db
def test_it_lets_every_reader_of_the_mailbox_download(
    support: Mailbox, member: User, mail: Message
) -> None:
    role_member = User.objects.create_user("dora", password="x")
    role = Group.objects.create(name="Support team")
    role_member.groups.add(role)
    set_access(support, user_ids=[member.pk], group_ids=[role.pk])
    admin = User.objects.create_user("alice", password="x", is_staff=True)
    url = f"/attachments/{_attachment(mail, '2').pk}/"
    for user in (member, role_member, admin):
        response = _client(user).get(url)
        assert (response.status_code, response.content) == (200, PNG), user.username


@pytest.mark.django_db
def test_it_hides_an_attachment_from_a_stranger_as_if_it_did_not_exist(
    stranger: User, mail: Message
) -> None:
    attachment = _attachment(mail, "2")
    client = _client(stranger)
    hidden = client.get(f"/attachments/{attachment.pk}/")
    missing = client.get(f"/attachments/{Attachment.objects.order_by('-pk')[0].pk + 1}/")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content == missing.content
    assert PNG not in hidden.content


@pytest.mark.django_db
def test_it_sends_an_anonymous_user_to_the_login_page(mail: Message) -> None:
    url = f"/attachments/{_attachment(mail, '2').pk}/"
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={url}"


@pytest.mark.django_db
def test_it_allows_only_reading(member: User, mail: Message) -> None:
    url = f"/attachments/{_attachment(mail, '2').pk}/"
    assert _client(member).post(url).status_code == 405


@pytest.mark.django_db
def test_it_answers_without_a_server_error_when_the_part_is_missing(
    member: User, support: Mailbox
) -> None:
    # Mail cut off after its second part, without a closing delimiter: malformed, kept all
    # the same. Its attachment row names a third part the bytes do not hold.
    raw = _mail("broken").split(b"--outer-b\r\nContent-Type: text/csv")[0]
    message = _stored(support, raw)
    attachment = _attachment(message, "2")
    Attachment.objects.filter(pk=attachment.pk).update(part="3")

    response = _client(member).get(f"/attachments/{attachment.pk}/")

    assert response.status_code == 404
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == ("Part 3 is not in the stored message (malformed mail).\n")
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_it_answers_gone_when_the_stored_bytes_are_gone(member: User, mail: Message) -> None:
    RawMessage.objects.filter(sha256=mail.sha256).delete()
    response = _client(member).get(f"/attachments/{_attachment(mail, '2').pk}/")
    assert response.status_code == 410
    assert b"stored copy of this message is gone" in response.content


def _case(message: Message, *others: Message, threaded: bool = False) -> Case:
    case = Case.objects.create(subject="Printer broken", message=message)
    Case.objects.filter(pk=case.pk).update(number=case.pk)
    if others or threaded:
        conversation = Conversation.objects.create(mailbox=message.mailbox, subject="Printer")
        Message.objects.filter(pk__in=[message.pk, *(m.pk for m in others)]).update(
            conversation=conversation
        )
        Case.objects.filter(pk=case.pk).update(conversation=conversation)
    return case


def _links(page: str) -> list[str]:
    attachments = page.split('id="attachments"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'href="(/attachments/\d+/)"', attachments)


@pytest.mark.django_db
def test_the_case_page_lists_the_attachments_with_working_links(
    member: User, mail: Message
) -> None:
    case = _case(mail)
    client = _client(member)
    page = client.get(f"/cases/{case.pk}/").content.decode()

    listed = page.split('id="attachments"', 1)[1]
    for text in ("report.pdf", "photo.png", "Über Straße.csv", "application/pdf", "text/csv"):
        assert text in listed
    assert f'href="/messages/{mail.pk}/"' in listed
    links = _links(page)
    assert len(links) == 3
    assert [client.get(link).content for link in links] == [PDF, PNG, CSV]


@pytest.mark.django_db
def test_the_lead_page_lists_the_attachments_of_its_conversation(
    member: User, support: Mailbox, mail: Message
) -> None:
    reply = _stored(support, _hostile_mail())
    conversation = Conversation.objects.create(mailbox=support, subject="Printer")
    Message.objects.filter(pk__in=[mail.pk, reply.pk]).update(conversation=conversation)
    lead = Lead.objects.create(name="Ann Buyer", message=mail, conversation=conversation)
    client = _client(member)

    page = client.get(f"/leads/{lead.pk}/").content.decode()

    assert "Attachments (8)" in page
    assert len(_links(page)) == 8
    # The sender's file name is shown as text, never as markup.
    assert "<script>alert(1)" not in page
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;.html" in page


@pytest.mark.django_db
def test_the_case_page_lists_attachments_in_a_few_queries_whatever_the_thread(
    member: User, support: Mailbox
) -> None:
    client = _client(member)

    def queries(messages: int) -> int:
        mails = [_stored(support, _mail(f"q{messages}-{n}")) for n in range(messages)]
        case = _case(*mails, threaded=True)
        with CaptureQueriesContext(connection) as captured:
            page = client.get(f"/cases/{case.pk}/").content.decode()
        assert len(_links(page)) == 3 * messages
        return len(captured)

    assert queries(1) == queries(4)


@pytest.mark.django_db
def test_the_case_page_shows_no_attachment_list_without_attachments(
    member: User, support: Mailbox
) -> None:
    plain = _stored(
        support,
        b"From: ann@customer.test\r\nSubject: Hello\r\nMessage-ID: <plain@customer.test>\r\n"
        b"\r\nJust text.\r\n",
    )
    page = _client(member).get(f"/cases/{_case(plain).pk}/").content.decode()
    assert 'id="attachments"' not in page
