"""Regular expressions in rule conditions, compiled with RE2 (google-re2).

RE2 matches in time linear in the text, whatever the pattern: ``(x+x+)+y`` or ``^(a|aa)+$``
(threats.md S09) cannot backtrack for ever, so a pattern an administrator saves cannot stall
processing. RE2 refuses what needs backtracking (backreferences, lookaround) and, with
``max_mem``, patterns whose compiled program is too large; :func:`pattern_error` reports
either when a rule is saved.
"""

from __future__ import annotations

import functools
from typing import Any

# google-re2 ships no type information.
import re2  # type: ignore[import-untyped]

# The memory one compiled pattern may use. RE2's default is 8 MiB; a condition needs far
# less, and the limit keeps a crafted pattern (``(\w{1000}){1000}``-like) from costing it.
MAX_MEM = 1 << 20
# The longest pattern accepted (the condition's value column holds 2000 characters).
MAX_LENGTH = 1000


class PatternInvalid(ValueError):
    """RE2 refuses the pattern; the message says why."""


def _options(case_sensitive: bool) -> Any:
    options = re2.Options()
    options.case_sensitive = case_sensitive
    options.max_mem = MAX_MEM
    # Errors are reported to the caller; RE2 would also write them to stderr.
    options.log_errors = False
    return options


@functools.lru_cache(maxsize=512)
def compiled(pattern: str, case_sensitive: bool) -> Any:
    """The compiled pattern; raise :class:`PatternInvalid` if RE2 refuses it."""
    if len(pattern) > MAX_LENGTH:
        raise PatternInvalid(f"the pattern is longer than {MAX_LENGTH} characters")
    try:
        return re2.compile(pattern, _options(case_sensitive))
    except re2.error as exc:
        reason = exc.args[0] if exc.args else str(exc)
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternInvalid(f"not a valid RE2 pattern: {reason}") from None


def pattern_error(pattern: str) -> str | None:
    """Why RE2 would refuse ``pattern``, or None if it compiles (either case)."""
    try:
        compiled(pattern, True)
        compiled(pattern, False)
    except PatternInvalid as exc:
        return str(exc)
    return None


def search(pattern: str, text: str, *, case_sensitive: bool) -> bool:
    """Whether ``pattern`` matches anywhere in ``text``."""
    regex = compiled(pattern, case_sensitive)
    try:
        return regex.search(text) is not None
    except UnicodeEncodeError:
        # RE2 works on UTF-8; a lone surrogate (undecodable bytes kept by a lenient decoder)
        # cannot be encoded, so it is matched as a replacement character.
        cleaned = text.encode("utf-8", "replace").decode("utf-8")
        return regex.search(cleaned) is not None
