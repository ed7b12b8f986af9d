"""The answer's language: tags normalised, headers parsed, the chain followed, text detected."""

from __future__ import annotations

import pytest
from django.test import override_settings

from mailroom.rendering.language import (
    LanguageChoice,
    choose_language,
    detect_language,
    normalise_tag,
    own_text,
    parse_accept_language,
    parse_content_language,
)
from mailroom.rendering.render import TemplateMissing
from tests.rendering.texts import PARAGRAPHS


@pytest.mark.parametrize(
    ("raw", "tag"),
    [
        ("en", "en"),
        ("EN", "en"),
        ("en-US", "en-US"),
        ("en_US", "en-US"),
        ("EN-us", "en-US"),
        (" de-at ", "de-AT"),
        ("de_DE.UTF-8", "de-DE"),
        ("ca_ES@valencia", "ca-ES"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("sl-rozaj", "sl-rozaj"),
        ("de-CH-x-phonebk", "de-CH"),
        ("gsw", "gsw"),
    ],
)
def test_it_normalises_language_tags(raw: str, tag: str) -> None:
    assert normalise_tag(raw) == tag


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "*",
        "german",
        "d",
        "de\r\nBcc: x@evil.test",
        "de\nBcc: x",
        "de;q=1",
        "de AT",
        "de--AT",
        "de-",
        "x-klingon",
        "i-default",
        "und",
        "zxx",
        "dé",
        "de-ÄT",
        "en-" + "a" * 9,
        "en-" + "-".join(["ab"] * 20),
        "<script>",
        "{{ subject }}",
    ],
)
def test_it_ignores_what_is_not_a_language_tag(raw: str) -> None:
    assert normalise_tag(raw) is None


def test_it_reads_every_tag_of_content_language_in_order() -> None:
    assert parse_content_language("de-AT, en") == ["de-AT", "en"]
    assert parse_content_language("de, DE, de_DE.UTF-8, junk!, fr") == ["de", "de-DE", "fr"]
    assert parse_content_language("") == []


@pytest.mark.parametrize(
    ("value", "tags"),
    [
        ("de", ["de"]),
        ("de-CH, de;q=0.9, en;q=0.8, *;q=0.5", ["de-CH", "de", "en"]),
        ("en;q=0.2, fr, de;q=0.7", ["fr", "de", "en"]),
        ("fr;q=0.5, it;q=0.5, es;q=0.5", ["fr", "it", "es"]),
        ("en;q=0, de", ["de"]),
        ("en;q=0.000, nl;q=1.000", ["nl"]),
        ("en ; Q=0.3 , pt-br", ["pt-BR", "en"]),
        ("en;q=2, de;q=-1, fr;q=abc, it;q=0.5", ["it"]),
        ("en;q=0.1234, es;q=0.1", ["es"]),
        ("de;level=1;q=0.4, en;q=0.3", ["de", "en"]),
        ("de\r\nBcc: x@evil.test, fr", ["fr"]),
        ("", []),
        (",,;q=,", []),
    ],
)
def test_it_orders_accept_language_by_q_value(value: str, tags: list[str]) -> None:
    assert parse_accept_language(value) == tags


def test_it_reads_at_most_twenty_accept_language_entries() -> None:
    value = ", ".join(["xx"] * 20 + ["de"])
    assert parse_accept_language(value) == ["xx"]


DETECTION_TEXT = PARAGRAPHS["fr"]


def _choose(available: list[str] | None = None, **kwargs: str) -> LanguageChoice:
    return choose_language(
        available if available is not None else ["en", "de", "fr", "it", "nl"],
        default=kwargs.pop("default", "nl"),
        site_default=kwargs.pop("site_default", "it"),
        **kwargs,
    )


ALL_STEPS = {
    "contact_language": "de",
    "content_language": "en",
    "accept_language": "en",
    "body_text": DETECTION_TEXT,
}


def test_the_contacts_language_wins_over_everything_else() -> None:
    choice = _choose(**ALL_STEPS)
    assert choice == LanguageChoice("de", "the contact's language (de)", "de")


def test_content_language_wins_over_accept_language_detection_and_defaults() -> None:
    choice = _choose(**{**ALL_STEPS, "contact_language": "", "content_language": "de"})
    assert choice == LanguageChoice("de", "Content-Language: de", "de")


def test_accept_language_wins_over_detection_and_defaults() -> None:
    steps = {**ALL_STEPS, "contact_language": "", "content_language": "", "accept_language": "de"}
    assert _choose(**steps) == LanguageChoice("de", "Accept-Language: de", "de")


def test_detection_wins_over_the_defaults() -> None:
    choice = _choose(body_text=DETECTION_TEXT)
    assert choice.language == "fr"
    assert choice.why == "detected from the text (fr, 0.99)"


def test_the_template_default_wins_over_the_site_default() -> None:
    assert _choose() == LanguageChoice("nl", "template default", "nl")


def test_the_site_default_comes_last() -> None:
    assert _choose(default="") == LanguageChoice("it", "site default", "it")


def test_the_site_default_is_djangos_language_code() -> None:
    with override_settings(LANGUAGE_CODE="fr-fr"):
        choice = choose_language(["en", "fr"], default="es")
    assert choice == LanguageChoice("fr", "site default", "fr")


def test_a_template_without_any_wanted_language_answers_in_its_first_translation() -> None:
    choice = choose_language(["ja", "ko"], content_language="de", default="en", site_default="en")
    assert choice == LanguageChoice("ja", "the template's first translation", "ja")


def test_a_template_without_translations_is_an_error() -> None:
    with pytest.raises(TemplateMissing):
        choose_language([], content_language="de")


def test_a_step_whose_language_has_no_translation_falls_through_to_the_next() -> None:
    choice = _choose(contact_language="ja", content_language="ko", accept_language="de")
    assert choice == LanguageChoice("de", "Accept-Language: de", "de")


def test_the_contacts_language_learned_from_this_message_is_credited_to_the_header() -> None:
    choice = _choose(contact_language="de-AT", content_language="de-at")
    assert choice == LanguageChoice("de", "Content-Language: de-AT", "de")


def test_a_regional_sender_gets_the_language_translation() -> None:
    choice = _choose(content_language="de-AT")
    assert choice == LanguageChoice("de", "Content-Language: de-AT", "de")


def test_a_regional_translation_is_preferred_when_it_matches_exactly() -> None:
    choice = choose_language(["pt", "pt_BR"], content_language="pt-br", default="en")
    assert choice == LanguageChoice("pt-BR", "Content-Language: pt-BR", "pt_BR")


def test_another_region_of_the_same_language_beats_the_default() -> None:
    choice = choose_language(["en", "pt-BR"], content_language="pt-PT", default="en")
    assert choice == LanguageChoice("pt-BR", "Content-Language: pt-PT", "pt-BR")


def test_template_labels_are_matched_after_normalisation() -> None:
    choice = choose_language(["EN_us", "De"], accept_language="de-DE;q=0.9", default="en")
    assert choice == LanguageChoice("de", "Accept-Language: de-DE", "De")


def test_accept_language_is_tried_best_first() -> None:
    choice = _choose(accept_language="de;q=0.5, fr;q=0.9, ja")
    assert choice == LanguageChoice("fr", "Accept-Language: fr", "fr")


@pytest.mark.parametrize(
    "declared",
    [
        "de\r\nBcc: x@evil.test",
        "de\nBcc: x@evil.test",
        "=?UTF-8?Q?de=0ABcc:_x@evil.test?=",
        "de<script>",
        "a" * 500,
        "de-" + "x" * 40,
    ],
)
def test_absurd_tags_from_the_sender_are_never_chosen(declared: str) -> None:
    choice = _choose(contact_language=declared, content_language=declared, accept_language=declared)
    assert choice == LanguageChoice("nl", "template default", "nl")


@pytest.mark.parametrize("language", sorted(PARAGRAPHS))
def test_it_detects_the_language_of_real_mail(language: str) -> None:
    detection = detect_language(PARAGRAPHS[language])
    assert detection is not None
    assert detection.language == language
    assert detection.confidence >= 0.95


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Danke!",
        "Hallo, wie geht es?",
        "Merci beaucoup pour votre aide",
        "Sent from my iPhone",
        "12345 678 -- 999 / 42",
        "asdf qwer zxcv uiop hjkl asdf qwer zxcv uiop hjkl",
        # Mixed: the whole would be scored as one language; each half tells otherwise.
        PARAGRAPHS["en"] + "\n\n" + PARAGRAPHS["de"],
        PARAGRAPHS["fr"] + "\n\n" + PARAGRAPHS["it"],
        PARAGRAPHS["de"] + "\n\n" + PARAGRAPHS["en"],
        PARAGRAPHS["es"] + "\n\n" + PARAGRAPHS["pt"],
        "Bonjour, thank you for the Bestellung, gracias amigo, grazie mille, dank je wel, obrigado",
    ],
)
def test_short_or_mixed_text_is_not_trusted(text: str) -> None:
    assert detect_language(text) is None


def test_short_or_mixed_text_falls_through_to_the_template_default() -> None:
    mixed = PARAGRAPHS["en"] + "\n\n" + PARAGRAPHS["de"]
    assert _choose(body_text=mixed) == LanguageChoice("nl", "template default", "nl")
    assert _choose(body_text="Danke!") == LanguageChoice("nl", "template default", "nl")


def test_a_detected_language_without_translation_falls_through() -> None:
    assert _choose(body_text=PARAGRAPHS["es"]) == LanguageChoice("nl", "template default", "nl")


def test_it_detects_the_senders_words_not_the_quoted_original() -> None:
    reply = (
        PARAGRAPHS["de"]
        + "\n\nOn Mon, 3 Mar 2025 at 10:00, Support <support@example.test> wrote:\n"
        + "\n".join(f"> {line}" for line in (PARAGRAPHS["en"] * 3).splitlines())
    )
    detection = detect_language(reply)
    assert detection is not None
    assert detection.language == "de"


def test_own_text_drops_quotes_signature_and_forwarded_original() -> None:
    text = "Meine Frage.\n> quoted\nNoch etwas.\n-- \nKlaus\n"
    assert own_text(text) == "Meine Frage.\nNoch etwas."
    outlook = "Bitte helfen.\n\n-----Original Message-----\nFrom: x\nHello"
    assert own_text(outlook).strip() == "Bitte helfen."
    german = "Bitte helfen.\n----- Ursprüngliche Nachricht -----\nVon: x"
    assert own_text(german).strip() == "Bitte helfen."
