"""The threading table, end to end (Dovecot → sync → pipeline → SMTP): which replies join the
conversation, and so the Case, of the mail they answer, and which must not."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from email import message_from_bytes

import pytest

from mailroom import conf
from mailroom.conversations.ids import conversation_message_id, signed_conversation
from mailroom.mailboxes.actions import set_folders
from mailroom.models import (
    Case,
    CaseStatus,
    Contact,
    Conversation,
    Mailbox,
    Message,
    MessageCopy,
    MessageReference,
    OutboxMessage,
    OutboxState,
    RecordChange,
)
from tests.conversations.helpers import answering_rule, deliver, mail
from tests.faults.helpers import create_mailbox
from tests.servers.dovecot import DovecotServer
from tests.servers.fixtures import ImapAccount
from tests.servers.smtp import SmtpSink

pytestmark = pytest.mark.django_db


@pytest.fixture
def support(make_mailbox: Callable[..., Mailbox]) -> Mailbox:
    return make_mailbox(processor="case")


def _first_case(account: ImapAccount) -> tuple[Case, str]:
    raw, message_id = mail()
    record = deliver(account, raw)
    assert record.case is not None and record.conversation is not None
    assert record.outcome == f"case #{record.case.number} created"
    return record.case, message_id


@pytest.mark.parametrize(
    ("in_reply_to", "references"),
    [(False, True), (True, False), (True, True)],
    ids=["references-only", "in-reply-to-only", "both"],
)
def test_a_reply_joins_the_conversation_and_its_case(
    support: Mailbox, imap_account: ImapAccount, in_reply_to: bool, references: bool
) -> None:
    case, parent = _first_case(imap_account)
    raw, _ = mail(
        subject="Re: Printer on fire",
        body="It is still burning.",
        in_reply_to=parent if in_reply_to else None,
        references=["<older@customer.test>", parent] if references else None,
    )

    record = deliver(imap_account, raw)

    assert Case.objects.count() == 1
    assert record.case == case and record.conversation == case.conversation
    assert record.outcome == f"joined case #{case.number}"
    assert Message.objects.filter(conversation=case.conversation).count() == 2
    assert MessageReference.objects.filter(message=record.message).exists() == bool(
        in_reply_to or references
    )


def test_a_reply_without_ids_starts_its_own_case(
    support: Mailbox, imap_account: ImapAccount
) -> None:
    case, _parent = _first_case(imap_account)
    raw, _ = mail(subject="Re: Printer on fire", body="Same printer.")

    record = deliver(imap_account, raw)

    assert Case.objects.count() == 2
    assert record.case is not None and record.case != case
    assert record.conversation != case.conversation
    # One Contact behind both, linked from the messages and the Cases.
    contact = Contact.objects.get()
    assert contact.email == "alice@customer.test" and contact.name == "Alice Martin"
    assert set(Case.objects.values_list("contact", flat=True)) == {contact.pk}
    assert Message.objects.filter(contact=contact).count() == 2


def test_a_parent_that_arrives_after_its_reply_joins_the_reply(
    support: Mailbox, imap_account: ImapAccount
) -> None:
    parent_raw, parent_id = mail()
    reply_raw, _ = mail(subject="Re: Printer on fire", in_reply_to=parent_id)
    first = deliver(imap_account, reply_raw)

    second = deliver(imap_account, parent_raw)

    assert Case.objects.count() == 1
    assert second.conversation == first.conversation
    assert second.outcome == f"joined case #{first.case.number if first.case else 0}"


def test_the_reply_to_our_autoresponse_joins_the_case_it_answered(
    support: Mailbox, imap_account: ImapAccount, smtp_server: SmtpSink
) -> None:
    answering_rule(support)
    case, parent = _first_case(imap_account)
    outbox = OutboxMessage.objects.get()
    assert outbox.state == OutboxState.SENT, outbox.last_error
    sent = message_from_bytes(smtp_server.accepted[0].data)
    ours = sent["Message-ID"]
    assert ours == outbox.message_id
    assert signed_conversation(ours) == case.conversation_id
    assert sent["Subject"] == f"Re: Printer on fire [Case {case.number}]"
    raw, _ = mail(
        subject=f"Re: {sent['Subject']}",
        body="Thanks, but it is still burning.",
        in_reply_to=ours,
        references=[parent, ours],
    )

    record = deliver(imap_account, raw)

    assert Case.objects.count() == 1
    assert record.case == case
    assert "our Message-ID" in record.steps[1]["detail"]


def test_a_reply_naming_only_our_message_id_joins(
    support: Mailbox, imap_account: ImapAccount
) -> None:
    case, _parent = _first_case(imap_account)
    assert case.conversation is not None
    # What a mail client answering our autoresponse sends when it keeps only its parent.
    ours = conversation_message_id(case.conversation.pk, conf.MESSAGE_ID_DOMAIN)
    raw, _ = mail(subject="Re: Auto: Printer on fire", in_reply_to=ours, references=[ours])

    record = deliver(imap_account, raw)

    assert record.case == case and Case.objects.count() == 1


def _other_mailbox(dovecot: DovecotServer) -> tuple[Mailbox, ImapAccount]:
    username = f"sales-{secrets.token_hex(4)}@example.test"
    password = secrets.token_urlsafe(12)
    dovecot.add_user(username, password)
    account = ImapAccount(dovecot.host, dovecot.port, username, password, dovecot)
    mailbox = create_mailbox(
        host=dovecot.host,
        port=dovecot.port,
        username=username,
        password=password,
        smtp_enabled=False,
        label="Sales",
        processor="case",
    )
    return mailbox, account


def test_a_forged_in_reply_to_never_reaches_into_another_mailbox(
    support: Mailbox, imap_account: ImapAccount, dovecot: DovecotServer
) -> None:
    sales, sales_account = _other_mailbox(dovecot)
    theirs_raw, theirs_id = mail(sender="bob@partner.test", name="Bob", subject="Big order")
    theirs = deliver(sales_account, theirs_raw)
    assert theirs.conversation is not None and theirs.conversation.mailbox == sales
    # A valid id of ours for the other mailbox's conversation, as a leaked reply would carry.
    leaked = conversation_message_id(theirs.conversation.pk, conf.MESSAGE_ID_DOMAIN)
    raw, _ = mail(
        sender="mallory@evil.test",
        name="Mallory",
        subject=f"Re: Big order [Case {theirs.case.number if theirs.case else 0}]",
        in_reply_to=leaked,
        references=[theirs_id, leaked],
    )

    record = deliver(imap_account, raw)

    assert record.conversation is not None and record.conversation.mailbox == support
    assert record.conversation != theirs.conversation
    assert record.case is not None and record.case != theirs.case
    assert Message.objects.filter(conversation=theirs.conversation).count() == 1
    assert "not a conversation of this mailbox" in record.steps[1]["detail"]


def test_a_message_reusing_a_stored_message_id_is_not_taken_for_the_parent_of_its_replies(
    support: Mailbox, imap_account: ImapAccount
) -> None:
    # threats.md F06 (c): an attacker reuses the Message-ID of a mail a reply names.
    victim_raw, victim_id = mail(sender="ann@customer.test", name="Ann", subject="Contract")
    victim = deliver(imap_account, victim_raw)
    reply_raw, _ = mail(
        sender="ann@customer.test",
        name="Ann",
        subject="Re: Contract",
        in_reply_to=victim_id,
        references=[victim_id],
    )
    reply = deliver(imap_account, reply_raw)
    assert reply.conversation is not None and reply.conversation == victim.conversation
    attack_raw, _ = mail(
        sender="mallory@evil.test", name="Mallory", subject="Contract", message_id=victim_id
    )

    attack = deliver(imap_account, attack_raw)

    # (a) both are stored; (c) the victim's conversation is untouched.
    assert Message.objects.filter(message_id=victim_id).count() == 2
    assert attack.conversation is not None and attack.conversation != victim.conversation
    assert Message.objects.filter(conversation=victim.conversation).count() == 2
    assert attack.case is not None and attack.case != victim.case
    assert "an earlier message of this mailbox has this Message-ID" in attack.steps[1]["detail"]


def test_a_message_id_shaped_like_ours_with_a_bad_signature_joins_nothing(
    support: Mailbox, imap_account: ImapAccount
) -> None:
    case, _parent = _first_case(imap_account)
    assert case.conversation is not None
    genuine = conversation_message_id(case.conversation.pk, conf.MESSAGE_ID_DOMAIN)
    local, _, domain = genuine.strip("<>").partition("@")
    prefix, _, signature = local.rpartition(".")
    forged = f"<{prefix}.{'0' * len(signature)}@{domain}>"
    assert forged != genuine and signed_conversation(forged) is None
    raw, _ = mail(sender="mallory@evil.test", in_reply_to=forged, references=[forged])

    record = deliver(imap_account, raw)

    assert record.conversation != case.conversation
    assert record.case is not None and record.case != case
    assert "bad signature" in record.steps[1]["detail"]


def test_a_rewritten_message_id_joins_by_subject_tag_only_from_the_same_sender(
    support: Mailbox, imap_account: ImapAccount
) -> None:
    case, _parent = _first_case(imap_account)
    # The client replaced every id (Outlook through some gateways does): only the tag is left.
    tagged = f"Re: Printer on fire [Case {case.number}]"
    stranger_raw, _ = mail(
        sender="mallory@evil.test",
        name="Mallory",
        subject=tagged,
        in_reply_to="<rewritten-1@gateway.test>",
    )
    stranger = deliver(imap_account, stranger_raw)
    raw, _ = mail(subject=tagged, in_reply_to="<rewritten-2@gateway.test>")

    record = deliver(imap_account, raw)

    assert stranger.case is not None and stranger.case != case
    assert record.case == case
    assert "subject tag" in record.steps[1]["detail"]
    assert Case.objects.count() == 2


def test_the_same_message_in_two_folders_is_one_message_in_one_conversation(
    support: Mailbox, imap_account: ImapAccount
) -> None:
    imap_account.create_folder("Archive")
    set_folders(support, known=["INBOX", "Archive"], selected=["INBOX", "Archive"])
    raw, parent = mail()
    imap_account.append("Archive", raw)
    record = deliver(imap_account, raw)
    reply_raw, _ = mail(subject="Re: Printer on fire", in_reply_to=parent)

    reply = deliver(imap_account, reply_raw, folder="Archive")

    assert Message.objects.filter(message_id=parent).count() == 1
    assert MessageCopy.objects.count() == 1
    assert Conversation.objects.count() == 1
    assert reply.conversation == record.conversation and reply.case == record.case
    assert Case.objects.count() == 1


def test_a_reply_to_a_closed_case_reopens_it_by_default(
    support: Mailbox, imap_account: ImapAccount
) -> None:
    case, parent = _first_case(imap_account)
    Case.objects.filter(pk=case.pk).update(status=CaseStatus.CLOSED)
    raw, _ = mail(subject="Re: Printer on fire", in_reply_to=parent)

    record = deliver(imap_account, raw)

    case.refresh_from_db()
    assert Case.objects.count() == 1 and record.case == case
    assert case.status == CaseStatus.OPEN
    assert record.outcome == f"case #{case.number} reopened"
    change = RecordChange.objects.get(case=case)
    assert (change.field, change.old, change.new) == ("status", "closed", "open")


def test_a_reply_to_a_closed_case_starts_a_new_case_when_the_mailbox_says_so(
    make_mailbox: Callable[..., Mailbox], imap_account: ImapAccount
) -> None:
    make_mailbox(processor="case", closed_case_replies="new_case")
    case, parent = _first_case(imap_account)
    Case.objects.filter(pk=case.pk).update(status=CaseStatus.RESOLVED)
    raw, _ = mail(subject="Re: Printer on fire", in_reply_to=parent)

    record = deliver(imap_account, raw)

    case.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED
    assert Case.objects.count() == 2
    assert record.case is not None and record.case != case
    new_conversation = record.case.conversation
    assert new_conversation is not None and new_conversation.follows == case.conversation
    assert record.message.conversation == new_conversation
    assert record.outcome == f"case #{record.case.number} created (case #{case.number} was closed)"
