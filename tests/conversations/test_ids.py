"""Our signed Message-IDs, the ids a report quotes, and HTML as text: the pure parts."""

from __future__ import annotations

from django.test import override_settings

from mailroom.conversations.ids import conversation_message_id, looks_like_ours, signed_conversation
from mailroom.mime.html_text import html_to_text
from mailroom.mime.quoted import quoted_message_ids


def test_our_message_id_names_its_conversation_and_verifies() -> None:
    first = conversation_message_id(42, "mailroom.test")
    second = conversation_message_id(42, "mailroom.test")

    assert first != second and first.endswith("@mailroom.test>")
    assert signed_conversation(first) == 42 and signed_conversation(second) == 42


def test_a_changed_conversation_or_signature_or_secret_does_not_verify() -> None:
    genuine = conversation_message_id(42, "mailroom.test")
    local, _, domain = genuine.strip("<>").partition("@")
    _mr, _conversation, random, signature = local.split(".")

    moved = f"<mr.43.{random}.{signature}@{domain}>"
    truncated = f"<mr.42.{random}.{signature[:-1]}@{domain}>"
    assert looks_like_ours(moved) and signed_conversation(moved) is None
    assert signed_conversation(truncated) is None
    assert signed_conversation("<42@customer.test>") is None
    with override_settings(SECRET_KEY="another installation's secret" * 2):
        assert signed_conversation(genuine) is None


def test_it_reads_the_ids_of_a_returned_message_or_its_headers() -> None:
    returned = (
        b"From: support@example.test\r\nMessage-ID: <ours@mailroom.test>\r\n"
        b"In-Reply-To: <theirs@customer.test>\r\n\r\nbody\r\n"
    )
    for part_type, quoted in (
        (b"message/rfc822", returned),
        (b"text/rfc822-headers", returned.split(b"\r\n\r\n")[0] + b"\r\n"),
    ):
        report = (
            b"From: MAILER-DAEMON@mx.test\r\n"
            b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
            b"--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n"
            b"--b\r\nContent-Type: " + part_type + b"\r\n\r\n" + quoted + b"--b--\r\n"
        )
        assert quoted_message_ids(report) == ["<ours@mailroom.test>", "<theirs@customer.test>"]
    assert quoted_message_ids(b"Subject: plain\r\n\r\n<x@y.test>\r\n") == []


def test_html_becomes_readable_text() -> None:
    html = (
        "<html><head><title>t</title><script>alert(1)</script></head><body>"
        "<h1>Offer</h1><p>Dear&nbsp;team,&lt;b&gt;</p><ul><li>one</li><li>two</li></ul>"
        "<table><tr><td>a</td><td>b</td></tr></table></body></html>"
    )
    assert html_to_text(html) == "Offer\n\nDear\xa0team,<b>\n\n- one\n- two\n\na b"
