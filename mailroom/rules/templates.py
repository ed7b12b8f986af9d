"""The template library: responses several rules may pick, saved and deleted here. HTML is
sanitised when saved (``mailroom.rendering.sanitize``)."""

from __future__ import annotations

from django.db import transaction

from mailroom.models import EmailTemplate, EmailTemplateTranslation, TemplateType
from mailroom.rendering.sanitize import clean_template_html
from mailroom.rules.actions import ResponseText


def stored_texts(type: str, texts: list[ResponseText]) -> list[ResponseText]:
    """The texts as they are stored: an HTML body sanitised, a text body as written."""
    if type != TemplateType.HTML:
        return texts
    return [ResponseText(t.language, t.subject, clean_template_html(t.body)) for t in texts]


@transaction.atomic
def save_library_template(
    template: EmailTemplate | None,
    *,
    name: str,
    type: str,
    default_language: str,
    texts: list[ResponseText],
) -> EmailTemplate:
    """Create (``template`` None) or update a library template and replace its texts."""
    if template is None:
        template = EmailTemplate(in_library=True)
    template.name, template.type, template.default_language = name, type, default_language
    template.save()
    replace_texts(template, stored_texts(type, texts))
    return template


def replace_texts(template: EmailTemplate, texts: list[ResponseText]) -> None:
    """Make ``texts`` the template's translations (the old ones go)."""
    template.translations.all().delete()
    EmailTemplateTranslation.objects.bulk_create(
        EmailTemplateTranslation(
            template=template, language=t.language, subject=t.subject, body=t.body
        )
        for t in texts
    )


def template_users(template: EmailTemplate) -> list[str]:
    """The rules that send ``template``, as "mailbox: rule"."""
    return [
        f"{rule.mailbox.label}: {rule.name}"
        for rule in template.rules.select_related("mailbox").order_by("mailbox__label", "name")
    ]
