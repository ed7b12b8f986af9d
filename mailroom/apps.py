"""The Django application that holds every mailroom model."""

from django.apps import AppConfig


class MailroomConfig(AppConfig):
    """mailroom is one Django app, organised by concept inside the package."""

    name = "mailroom"
    verbose_name = "mailroom"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from mailroom.people.signin import forget_own_failures

        user_logged_in.connect(forget_own_failures, dispatch_uid="mailroom-forget-own-failures")
