"""The Django application that holds every mailroom model."""

from django.apps import AppConfig


class MailroomConfig(AppConfig):
    """mailroom is one Django app, organised by concept inside the package."""

    name = "mailroom"
    verbose_name = "mailroom"
    default_auto_field = "django.db.models.BigAutoField"
