"""A rule's response: inline or from the library, and "save response as email template"."""

from __future__ import annotations

import pytest
from django.db import IntegrityError

from mailroom.models import AutoResponseRule, EmailTemplate
from mailroom.rules.actions import (
    ResponseText,
    TemplateNameTaken,
    create_inline_response,
    response_errors,
    save_as_template,
    set_response,
)
from tests.pipeline.helpers import mailbox

pytestmark = pytest.mark.django_db


def _inline_rule(name: str = "Welcome") -> AutoResponseRule:
    response = create_inline_response(
        name,
        type="text",
        default_language="en",
        texts=[
            ResponseText("en", "Re: {{ subject }}", "Thanks."),
            ResponseText("de", "AW", "Danke"),
        ],
    )
    return AutoResponseRule.objects.create(mailbox=mailbox(), name=name, template=response)


def test_an_inline_response_is_not_in_the_library_and_may_share_a_name() -> None:
    EmailTemplate.objects.create(name="Welcome")
    rule = _inline_rule("Welcome")
    _inline_rule("Welcome")

    assert not rule.template.in_library
    assert rule.template.translations.count() == 2
    assert EmailTemplate.objects.filter(in_library=True).count() == 1


def test_library_names_are_unique() -> None:
    EmailTemplate.objects.create(name="ack")
    with pytest.raises(IntegrityError):
        EmailTemplate.objects.create(name="ack")


def test_saving_the_response_as_a_template_puts_it_into_the_library() -> None:
    rule = _inline_rule()

    template = save_as_template(rule, "Welcome letter")

    rule.refresh_from_db()
    assert rule.template == template
    assert template.in_library
    assert template.name == "Welcome letter"
    assert template.translations.count() == 2
    # Another rule may now pick it.
    other = AutoResponseRule.objects.create(mailbox=rule.mailbox, name="Other", template=template)
    assert response_errors(other, template) is None


def test_saving_as_a_template_refuses_a_name_the_library_has() -> None:
    EmailTemplate.objects.create(name="Welcome letter")
    rule = _inline_rule()

    with pytest.raises(TemplateNameTaken):
        save_as_template(rule, "Welcome letter")
    rule.template.refresh_from_db()
    assert not rule.template.in_library


def test_saving_as_a_template_refuses_a_rule_that_sends_a_library_template() -> None:
    rule = _inline_rule()
    save_as_template(rule, "Welcome letter")
    with pytest.raises(ValueError, match="already sends the library template"):
        save_as_template(rule, "Another name")


def test_an_inline_response_belongs_to_one_rule() -> None:
    rule = _inline_rule()
    assert response_errors(rule, rule.template) is None
    assert response_errors(None, rule.template) == "this response belongs to another rule"


def test_picking_a_library_template_deletes_the_inline_response() -> None:
    rule = _inline_rule()
    inline_pk = rule.template.pk
    library = EmailTemplate.objects.create(name="ack")

    set_response(rule, library)

    rule.refresh_from_db()
    assert rule.template == library
    assert not EmailTemplate.objects.filter(pk=inline_pk).exists()


def test_deleting_a_rule_deletes_its_inline_response_but_not_a_library_template() -> None:
    rule = _inline_rule()
    library = EmailTemplate.objects.create(name="ack")
    other = AutoResponseRule.objects.create(mailbox=rule.mailbox, name="Other", template=library)

    rule.delete()
    other.delete()

    assert list(EmailTemplate.objects.all()) == [library]


def test_deleting_a_mailbox_deletes_its_rules_inline_responses() -> None:
    rule = _inline_rule()
    rule.mailbox.delete()
    assert not EmailTemplate.objects.exists()
