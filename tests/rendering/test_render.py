"""Template rendering: allow-listed placeholders only, one pass, language fallback."""

from __future__ import annotations

import pytest

from mailroom.rendering.render import RenderedEmail, TemplateMissing, Translation, render

EN = Translation("en", "Re: {{ subject }}", "Dear {{ sender_name }},\nthanks.\n")
DE = Translation("de", "AW: {{ subject }}", "Hallo {{ sender_name }},\ndanke.\n")


def _render(
    translations: list[Translation],
    *,
    is_html: bool = False,
    wanted: tuple[str, ...] = (),
    default: str = "en",
    values: dict[str, str] | None = None,
) -> RenderedEmail:
    return render(
        translations,
        is_html=is_html,
        wanted_languages=list(wanted),
        default_language=default,
        values={"subject": "Hi", "sender_name": "Alice", **(values or {})},
    )


def test_it_substitutes_known_placeholders() -> None:
    rendered = _render([EN])
    assert rendered.subject == "Re: Hi"
    assert rendered.text == "Dear Alice,\nthanks.\n"


@pytest.mark.parametrize(
    "body",
    [
        "{{7*7}}",
        "{{ ''.__class__.__mro__ }}",
        "{% debug %}",
        '{% include "x" %}',
        "${7*7}",
        "{{settings.SECRET_KEY}}",
        "{{ user.password }}",
    ],
)
def test_it_leaves_anything_but_a_known_placeholder_literal(body: str) -> None:
    rendered = _render([Translation("en", "s", body)])
    assert rendered.text == body


def test_it_never_expands_a_placeholder_inside_a_value() -> None:
    rendered = _render([EN], values={"sender_name": "{{ subject }} {{7*7}}"})
    assert rendered.text == "Dear {{ subject }} {{7*7}},\nthanks.\n"


def test_it_removes_line_breaks_from_the_subject() -> None:
    rendered = _render([EN], values={"subject": "Hi\r\nBcc: x@evil.test"})
    assert rendered.subject == "Re: Hi Bcc: x@evil.test"


def test_it_escapes_values_in_html_templates() -> None:
    html = Translation("en", "s", "<p>Dear {{ sender_name }}</p>")
    rendered = _render([html], is_html=True, values={"sender_name": "<img src=x onerror=alert(1)>"})
    assert rendered.html == "<p>Dear &lt;img src=x onerror=alert(1)&gt;</p>"
    assert "<img src=x onerror=alert(1)>" in rendered.text


def test_it_falls_back_from_the_wanted_language_to_the_default_then_english() -> None:
    assert _render([EN, DE], wanted=("de",)).language == "de"
    assert _render([EN, DE], wanted=("fr",), default="de").language == "de"
    assert _render([EN, DE], wanted=("fr",), default="it").language == "en"
    assert _render([DE], wanted=("fr",), default="it").language == "de"


def test_it_refuses_a_template_without_translation() -> None:
    with pytest.raises(TemplateMissing):
        _render([])
