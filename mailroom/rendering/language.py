"""Choose the language of an autoresponse, and say why.

The chain, first match wins (each step only counts when the template has a translation for
the language, see "Matching" below):

1. The Contact's preferred language. It is learned from the Content-Language of the sender's
   mail; when it is the one this very message declares, step 2 is named as the reason instead.
2. The message's ``Content-Language`` (every tag, in order), then its ``Accept-Language``
   (by q-value; RFC 3282 defines both for mail).
3. The language detected from the body text (below).
4. The mailbox's answer language (``Mailbox.language``), when the administrator set one.
5. The template's default language.
6. The site default, ``settings.LANGUAGE_CODE``.
7. The template's first translation, so that a template with any translation always answers.

Tags are sender-supplied text. :func:`normalise_tag` accepts only the shape of a BCP 47 tag
(letters and digits in hyphen-separated subtags of at most 8, a 2-3 letter language first, at
most 35 characters) and returns its canonical spelling: ``en_US``, ``EN-us`` and ``en-US``
all become ``en-US``; POSIX locale names lose their codeset (``de_DE.UTF-8`` is ``de-DE``).
Anything else (``de\\r\\nBcc: x``, ``*``, ``german``) is ignored, so only a canonical tag
built here can reach a header or the audit record.

Matching: a wanted tag matches a translation whose label normalises to the same tag, else to
the tag with its last subtags dropped (region falls back to language: ``de-AT`` gets ``de``),
else to any translation of the same language (``pt-PT`` gets ``pt-BR`` rather than English).

Detection uses py3langid (a maintained fork of langid.py, BSD): its naive Bayes model
(4.5 MB, 140 languages) ships inside its pure-Python wheel, so nothing is downloaded at run
time; numpy is its one dependency. It loads in about 0.7 s on first use (lazily, once per
process, so one that never answers mail never pays) and then holds about 90 MB of memory; a
paragraph is classified in about 50 microseconds. Its probabilities are normalised over all
its languages, which lets us demand confidence. It was chosen over langdetect (no wheel, and
random unless seeded), lingua (far larger models) and the fastText-based detectors (a compiled
extension, and the better model is fetched on first use). The text is trusted only when it
has at least ``MIN_LETTERS`` letters of the sender's own words (quoted lines, the signature
and a forwarded original are left out), the top language has a probability of at least
``MIN_CONFIDENCE``, and each half of the text on its own agrees: the whole-text model scores a
message half English and half German confidently as one of them, so that check is what makes
mixed text fall through to the template's default.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.conf import settings

from mailroom.rendering.render import TemplateMissing

# Texts with fewer letters than this, or a detection less confident than this, are not trusted.
MIN_LETTERS = 40
MIN_CONFIDENCE = 0.85
# Only the beginning of a long message is looked at: enough to be sure, and bounded work.
MAX_DETECTED_CHARS = 5000
# RFC 5646 section 4.4.1 recommends that implementations handle tags of up to 35 characters.
MAX_TAG_LENGTH = 35
# A header lists a few languages; more than this many entries are ignored.
MAX_LIST_ENTRIES = 20

_PRIMARY = re.compile(r"[a-z]{2,3}")
_SUBTAG = re.compile(r"[a-z0-9]{1,8}")
_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")
# Language codes that name no language: undetermined, no linguistic content, multiple, missing.
_NOT_A_LANGUAGE = frozenset({"und", "zxx", "mul", "mis"})
# Where the sender's own words end: a signature, or the start of a forwarded or quoted original.
_END_OF_OWN_TEXT = re.compile(
    r"^(?:-- ?|_{5,}|-{3,}\s*[^-\n]+?\s*-{3,}|On .{0,200} wrote:)\s*$", re.MULTILINE
)


@dataclass(frozen=True)
class LanguageChoice:
    """The language chosen for a reply.

    ``language`` is a canonical tag fit for a Content-Language header ("" when the chosen
    translation's label is not a language tag); ``translation`` is that translation's label as
    the template spells it; ``why`` is a short phrase for the audit record.
    """

    language: str
    why: str
    translation: str


@dataclass(frozen=True)
class Detection:
    """A language detected from text, with the detector's probability."""

    language: str
    confidence: float


def normalise_tag(raw: str) -> str | None:
    """Return the canonical spelling of a language tag, or None if it is not one."""
    text = raw.strip()
    if not text or len(text) > MAX_TAG_LENGTH:
        return None
    # POSIX locale names carry a codeset and a modifier: de_DE.UTF-8, ca_ES@valencia.
    text = re.split(r"[.@]", text, maxsplit=1)[0]
    parts = text.replace("_", "-").lower().split("-")
    if not _PRIMARY.fullmatch(parts[0]) or parts[0] in _NOT_A_LANGUAGE:
        return None
    tag = [parts[0]]
    for part in parts[1:]:
        if not _SUBTAG.fullmatch(part):
            return None
        if len(part) == 1:
            # A singleton starts an extension or private use ("x-…"): not needed to choose.
            break
        if len(part) == 4 and part.isalpha():
            tag.append(part.title())  # script: Hant
        elif (len(part) == 2 and part.isalpha()) or (len(part) == 3 and part.isdigit()):
            tag.append(part.upper())  # region: AT, 419
        else:
            tag.append(part)
    return "-".join(tag)


def fallbacks(tag: str) -> list[str]:
    """``zh-Hant-TW`` → ``["zh-Hant-TW", "zh-Hant", "zh"]``: the tag, then shorter and shorter."""
    parts = tag.split("-")
    return ["-".join(parts[:n]) for n in range(len(parts), 0, -1)]


def _dedupe(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


def parse_content_language(value: str) -> list[str]:
    """The canonical tags of a Content-Language value ("de, en"), in order; junk left out."""
    tags = (normalise_tag(item) for item in value.split(",")[:MAX_LIST_ENTRIES])
    return _dedupe([tag for tag in tags if tag])


def parse_accept_language(value: str) -> list[str]:
    """The canonical tags of an Accept-Language value, best first (RFC 9110 section 12.5.4).

    Entries keep their order among equal q-values; ``q=0`` (not acceptable), ``*``, a malformed
    q-value and tags that are not tags are left out.
    """
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(value.split(",")[:MAX_LIST_ENTRIES]):
        tag_text, *params = item.split(";")
        quality = 1.0
        for param in params:
            name, _, number = param.partition("=")
            if name.strip().lower() == "q":
                number = number.strip()
                quality = float(number) if _QVALUE.fullmatch(number) else 0.0
        tag = normalise_tag(tag_text)
        if tag and quality > 0:
            ranked.append((-quality, position, tag))
    return _dedupe([tag for _, _, tag in sorted(ranked)])


def own_text(text: str) -> str:
    """The sender's own words: quoted lines, the signature and any original below dropped."""
    end = _END_OF_OWN_TEXT.search(text)
    if end is not None:
        text = text[: end.start()]
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(">"))


@cache
def _identifier() -> Any:
    # Imported and loaded on first use: numpy and the model cost memory and most of a second,
    # which processes that never answer mail (the web server) should not pay.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> Detection | None:
    """The language of the sender's words in ``text``, or None when it cannot be trusted."""
    sample = own_text(text)[:MAX_DETECTED_CHARS]
    if sum(character.isalpha() for character in sample) < MIN_LETTERS:
        return None
    identifier = _identifier()
    label, confidence = identifier.classify(sample)
    if confidence < MIN_CONFIDENCE:
        return None
    words = sample.split()
    middle = len(words) // 2
    for half in (words[:middle], words[middle:]):
        if identifier.classify(" ".join(half))[0] != label:
            return None
    language = normalise_tag(str(label))
    return Detection(language, float(confidence)) if language else None


class _Translations:
    """The template's translations, found by canonical tag."""

    def __init__(self, labels: list[str]) -> None:
        self.by_tag: dict[str, str] = {}
        for label in labels:
            tag = normalise_tag(label)
            if tag is not None:
                self.by_tag.setdefault(tag, label)

    def find(self, tag: str) -> tuple[str, str] | None:
        """(canonical tag, label) of the translation for ``tag``, or None."""
        for candidate in fallbacks(tag):
            if candidate in self.by_tag:
                return candidate, self.by_tag[candidate]
        language = tag.split("-")[0]
        for candidate, label in self.by_tag.items():
            if candidate.split("-")[0] == language:
                return candidate, label
        return None


def _wanted(
    *,
    contact_language: str,
    content_language: str,
    accept_language: str,
    body_text: str,
    mailbox_default: str,
    default: str,
    site_default: str,
) -> Iterator[tuple[str, str]]:
    """(tag, why) in the order of the chain; lazily, so the text is looked at only if needed."""
    declared = parse_content_language(content_language)
    contact = normalise_tag(contact_language)
    if contact and declared[:1] != [contact]:
        yield contact, f"the contact's language ({contact})"
    for tag in declared:
        yield tag, f"Content-Language: {tag}"
    for tag in parse_accept_language(accept_language):
        yield tag, f"Accept-Language: {tag}"
    detection = detect_language(body_text) if body_text else None
    if detection is not None:
        # Rounded down: 0.9999 is shown as 0.99, never as a certainty of 1.00.
        confidence = math.floor(detection.confidence * 100) / 100
        yield (
            detection.language,
            f"detected from the text ({detection.language}, {confidence:.2f})",
        )
    for tag, why in (
        (mailbox_default, "mailbox default"),
        (default, "template default"),
        (site_default, "site default"),
    ):
        canonical = normalise_tag(tag)
        if canonical:
            yield canonical, why


def choose_language(
    available: list[str],
    *,
    contact_language: str = "",
    content_language: str = "",
    accept_language: str = "",
    body_text: str = "",
    mailbox_default: str = "",
    default: str = "",
    site_default: str | None = None,
) -> LanguageChoice:
    """Choose one of ``available`` (the template's translation labels) for a reply.

    ``content_language`` and ``accept_language`` are the raw header values; ``default`` is the
    template's default language; ``site_default`` defaults to ``settings.LANGUAGE_CODE``.
    Raises :class:`TemplateMissing` when there is no translation at all.
    """
    if not available:
        raise TemplateMissing("the template has no translation")
    translations = _Translations(available)
    wanted = _wanted(
        contact_language=contact_language,
        content_language=content_language,
        accept_language=accept_language,
        body_text=body_text,
        mailbox_default=mailbox_default,
        default=default,
        site_default=settings.LANGUAGE_CODE if site_default is None else site_default,
    )
    for tag, why in wanted:
        found = translations.find(tag)
        if found is not None:
            language, label = found
            return LanguageChoice(language, why, label)
    first = available[0]
    return LanguageChoice(normalise_tag(first) or "", "the template's first translation", first)
