"""The writes of threading: Contacts, conversations, the reference index. They run in the
caller's (the pipeline's) transaction."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction

from mailroom.mime.parse import ParsedMessage
from mailroom.models import Contact, Conversation, Mailbox, Message, MessageReference
from mailroom.store.rows import insert_rows

# A language tag as Content-Language carries it (RFC 3282, BCP 47), e.g. "de" or "pt-BR".
_LANGUAGE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")


def content_language(parsed: ParsedMessage) -> str:
    """The first language the message declares in Content-Language, "" if none."""
    value = parsed.header("Content-Language") or ""
    first = value.split(",", 1)[0].strip()
    return first if _LANGUAGE.fullmatch(first) else ""


def contact_address(email: str) -> str:
    return email.strip().lower()[:320]


def preload_contacts(messages: Iterable[Message], cache: dict[str, Any]) -> None:
    """Find or create the Contacts of a batch's senders at once (three statements, not two or
    three per message); :func:`contact_for` then finds them in ``cache``."""
    names: dict[str, str] = {}
    for message in messages:
        address = contact_address(message.from_email)
        if "@" in address:
            names.setdefault(address, message.from_name[:300])
    contacts: dict[str, Contact] = cache.setdefault("contacts", {})
    wanted = [address for address in names if address not in contacts]
    if not wanted:
        return
    found = {c.email: c for c in Contact.objects.filter(email__in=wanted)}
    new = [a for a in wanted if a not in found]
    if new:
        # Another process may create one of them meanwhile: its row is kept, ours skipped.
        insert_rows(Contact, [{"email": a, "name": names[a]} for a in new], ignore_conflicts=True)
        found.update((c.email, c) for c in Contact.objects.filter(email__in=new))
    contacts.update(found)


def contact_for(parsed: ParsedMessage, cache: dict[str, Any]) -> Contact | None:
    """The Contact of the message's (first) sender, created when new; its name filled in when
    unknown and its preferred language updated when the message declares one."""
    sender = parsed.from_[0] if parsed.from_ else None
    if sender is None or "@" not in sender.email:
        return None
    email = contact_address(sender.email)
    contacts: dict[str, Contact] = cache.setdefault("contacts", {})
    contact = contacts.get(email) or Contact.objects.filter(email=email).first()
    if contact is None:
        try:
            with transaction.atomic():
                contact = Contact.objects.create(email=email, name=sender.name[:300])
        except IntegrityError:  # another process created it meanwhile
            contact = Contact.objects.get(email=email)
    changed = []
    if sender.name and not contact.name:
        contact.name = sender.name[:300]
        changed.append("name")
    language = content_language(parsed)
    if language and language != contact.language:
        contact.language = language[:35]
        changed.append("language")
    if changed:
        contact.save(update_fields=changed)
    contacts[email] = contact
    return contact


def start_conversation(
    mailbox: Mailbox,
    subject: str,
    contact: Contact | None,
    *,
    marks: list[str] | None = None,
    follows: Conversation | None = None,
) -> Conversation:
    """A new conversation of ``mailbox``."""
    return Conversation.objects.create(
        mailbox=mailbox, subject=subject, contact=contact, marks=marks or [], follows=follows
    )


def put_in_conversation(
    message: Message, conversation: Conversation, contact: Contact | None
) -> None:
    """Make ``message`` (and the Contact of its sender) part of ``conversation``."""
    Message.objects.filter(pk=message.pk).update(conversation=conversation, contact=contact)
    message.conversation = conversation
    message.contact = contact


def claim(message_pk: int, conversation: Conversation, contact: Contact | None = None) -> bool:
    """Put the message into ``conversation`` if it still has none; False when another message's
    processing (a reply that found it as its parent, here or in another worker) placed it
    meanwhile. On PostgreSQL a concurrent placement holds the row: it is waited for, then seen.
    """
    fields: dict[str, object] = {"conversation": conversation}
    if contact is not None:
        fields["contact"] = contact
    placed = Message.objects.filter(pk=message_pk, conversation__isnull=True).update(**fields)
    return placed == 1


def _references(
    message: Message, in_reply_to: str, references: list[str]
) -> list[MessageReference]:
    rows = {(in_reply_to, MessageReference.IN_REPLY_TO)} if in_reply_to else set()
    rows.update((str(ref), MessageReference.REFERENCES) for ref in references if ref)
    return [
        MessageReference(
            mailbox_id=message.mailbox_id, message=message, ref_id=ref[:998], header=header
        )
        for ref, header in sorted(rows)
    ]


def index_references(message: Message, parsed: ParsedMessage) -> None:
    """Write the ids ``message`` names in In-Reply-To and References to the index."""
    # A re-run (reprocessing) finds its rows there already.
    MessageReference.objects.bulk_create(
        _references(message, parsed.in_reply_to, parsed.references), ignore_conflicts=True
    )


def index_references_of(messages: Iterable[Message]) -> None:
    """Write the ids that stored messages name to the index, in one statement."""
    rows = [
        row for m in messages for row in _references(m, m.in_reply_to, list(m.references or []))
    ]
    MessageReference.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)


def mark(conversation: Conversation, label: str) -> None:
    """Add ``label`` to the conversation's marks (once)."""
    if label and label not in conversation.marks:
        conversation.marks = [*conversation.marks, label]
        conversation.save(update_fields=["marks"])
