"""WSGI entry point, served by waitress in ``mailroom run``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailroom.settings")
application = get_wsgi_application()
