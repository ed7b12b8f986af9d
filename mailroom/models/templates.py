"""Response templates: one logical name, a translation per language."""

from __future__ import annotations

from django.db import models


class TemplateType(models.TextChoices):
    """Whether the body is sent as plain text or as HTML (with a text alternative)."""

    TEXT = "text", "Plain text"
    HTML = "html", "HTML"


class EmailTemplate(models.Model):
    """A named response template; its text lives in :class:`EmailTemplateTranslation` rows.

    A library template (``in_library``) has a unique name and may be picked by any rule. A
    rule's inline response is an EmailTemplate with ``in_library`` False, owned by exactly
    one rule (the one whose ``template`` it is), not listed in the library; its name is free
    (the rule's name by convention) and need not be unique.
    """

    name = models.CharField(max_length=100)
    type = models.CharField(max_length=10, choices=TemplateType.choices, default=TemplateType.TEXT)
    default_language = models.CharField(max_length=10, default="en")
    in_library = models.BooleanField(default=True)

    class Meta:
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(
                fields=("name",),
                condition=models.Q(in_library=True),
                name="template_unique_library_name",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class EmailTemplateTranslation(models.Model):
    """The subject and body of a template in one language."""

    template = models.ForeignKey(
        EmailTemplate, on_delete=models.CASCADE, related_name="translations"
    )
    language = models.CharField(max_length=10)
    subject = models.CharField(max_length=500)
    body = models.TextField()

    class Meta:
        ordering = ("template", "language")
        constraints = [
            models.UniqueConstraint(
                fields=("template", "language"), name="translation_unique_language"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template.name} [{self.language}]"
