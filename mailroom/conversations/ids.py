"""mailroom's own Message-IDs: they carry the conversation id, signed with the server secret.

``<mr.{conversation}.{random}.{signature}@{domain}>``: the signature is an HMAC (Django's
``salted_hmac``, keyed by ``SECRET_KEY``) of the conversation id and the random part, so a
sender can neither make up an id for a conversation nor move a real one to another
conversation (threats.md S12). An id shaped like ours whose signature does not verify is
treated as unknown.
"""

from __future__ import annotations

import re
import secrets

from django.utils.crypto import constant_time_compare, salted_hmac

from mailroom.mime.compose import make_message_id

_SALT = "mailroom.conversations.message-id"
_SIGNATURE_LENGTH = 24
_OURS = re.compile(
    r"<mr\.(?P<conversation>[1-9][0-9]{0,18})\.(?P<random>[0-9a-f]{16})"
    r"\.(?P<sig>[0-9a-f]+)@[^>]+>"
)


def _signature(conversation_id: int, random: str) -> str:
    return salted_hmac(_SALT, f"{conversation_id}.{random}", algorithm="sha256").hexdigest()[
        :_SIGNATURE_LENGTH
    ]


def conversation_message_id(conversation_id: int, domain: str) -> str:
    """A fresh Message-ID for mail we send in ``conversation_id``."""
    random = secrets.token_hex(8)
    local = f"mr.{conversation_id}.{random}.{_signature(conversation_id, random)}"
    return make_message_id(domain, local_part=local)


def looks_like_ours(msg_id: str) -> bool:
    """Whether ``msg_id`` has the shape of our ids (signed correctly or not)."""
    return _OURS.fullmatch(msg_id) is not None


def signed_conversation(msg_id: str) -> int | None:
    """The conversation id a Message-ID of ours names, if its signature verifies; else None."""
    match = _OURS.fullmatch(msg_id)
    if match is None:
        return None
    conversation_id = int(match["conversation"])
    if not constant_time_compare(match["sig"], _signature(conversation_id, match["random"])):
        return None
    return conversation_id
