"""The parse of messages just stored, kept briefly so processing in the same process does not
parse the raw bytes a second time. A miss only costs a parse: the raw bytes stay the truth."""

from __future__ import annotations

import threading
from collections import OrderedDict

from mailroom.mime.parse import ParsedMessage

_LIMIT = 1024
_lock = threading.Lock()
_recent: OrderedDict[int, ParsedMessage] = OrderedDict()


def remember(message_id: int, parsed: ParsedMessage) -> None:
    """Keep the parse of a message that was just stored, forgetting the oldest beyond the limit."""
    with _lock:
        _recent[message_id] = parsed
        while len(_recent) > _LIMIT:
            _recent.popitem(last=False)


def take(message_id: int) -> ParsedMessage | None:
    """The remembered parse of the message, removed from memory, or None."""
    with _lock:
        return _recent.pop(message_id, None)
