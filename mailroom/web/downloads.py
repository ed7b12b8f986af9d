"""Headers for handing a stored file to the browser as a download, never as a page.

File names come from the sender. The ``Content-Disposition`` value built here is safe whatever
they hold: control and formatting characters (CR/LF, NUL, bidirectional overrides), quotes and
path separators are removed, the ASCII ``filename`` fallback carries no ``%`` or ``\\`` a
browser might decode, and the full name travels percent-encoded in ``filename*`` (RFC 6266
section 4.3, RFC 5987).
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

DEFAULT_NAME = "attachment"
_MAX_LENGTH = 200
# Cc: controls (CR, LF, NUL, DEL); Cf: formatting (right-to-left override, zero width);
# Zl/Zp: line and paragraph separators; Cs/Co/Cn: surrogates, private use, unassigned.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
_DROPPED_CHARACTERS = frozenset('"')
_SEPARATORS = frozenset("/\\")
# Characters the quoted fallback must not hold: some browsers percent-decode it, and a
# backslash is an escape inside a quoted-string.
_UNSAFE_IN_FALLBACK = frozenset('%\\"')


def safe_filename(name: str) -> str:
    """Return ``name`` as a plain file name: one line, no quotes, no directories.

    Path separators become "_" and "." or ".." steps go, so "../../etc/passwd" becomes
    "etc_passwd"; leading dots (hidden files) and surrounding white space go too. A name left
    empty becomes "attachment". Names longer than 200 characters are cut, keeping a short
    extension.
    """
    kept: list[str] = []
    for char in unicodedata.normalize("NFC", name):
        if char in _SEPARATORS:
            kept.append("/")
        elif char.isspace():
            # CR, LF, tab and the Unicode line breaks end up as a single space.
            kept.append(" ")
        elif char in _DROPPED_CHARACTERS or unicodedata.category(char) in _DROPPED_CATEGORIES:
            continue
        else:
            kept.append(char)
    steps = (" ".join(step.split()) for step in "".join(kept).split("/"))
    cleaned = "_".join(step for step in steps if step.strip(".")).lstrip(".").strip()
    if len(cleaned) > _MAX_LENGTH:
        stem, dot, extension = cleaned.rpartition(".")
        if dot and stem and len(extension) <= 10:
            cleaned = cleaned[: _MAX_LENGTH - len(extension) - 1].rstrip() + "." + extension
        else:
            cleaned = cleaned[:_MAX_LENGTH].rstrip()
    return cleaned or DEFAULT_NAME


def ascii_fallback(name: str) -> str:
    """Return the ASCII stand-in of an already safe name for the plain ``filename`` parameter."""
    letters = unicodedata.normalize("NFKD", name)
    out: list[str] = []
    for char in letters:
        if unicodedata.combining(char):
            continue
        if " " <= char <= "~" and char not in _UNSAFE_IN_FALLBACK:
            out.append(char)
        else:
            out.append("_")
    return "".join(out).strip() or DEFAULT_NAME


def attachment_disposition(name: str) -> str:
    """Return a ``Content-Disposition`` value that downloads a file called ``name``."""
    safe = safe_filename(name)
    encoded = quote(safe, safe="", encoding="utf-8")
    return f"attachment; filename=\"{ascii_fallback(safe)}\"; filename*=UTF-8''{encoded}"
