"""Django settings for mailroom. Site knobs come from :mod:`mailroom.conf`, nowhere else."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import django_stubs_ext

from mailroom import conf, shape

# Lets admin classes and querysets be subscripted (ModelAdmin[Case]) at run time for typing.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = conf.DATA_DIR
DATA_DIR.mkdir(parents=True, exist_ok=True)


shape.require_shared_secrets()
SECRET_KEY = shape.secret_key(DATA_DIR)
DEBUG = conf.DEBUG
ALLOWED_HOSTS = ["*"] if DEBUG else ["127.0.0.1", "localhost", *conf.env_list("MAILROOM_HOSTS")]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "mailroom.apps.MailroomConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "mailroom.web.page_policy.PagePolicyMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the login page saying so.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "mailroom.urls"
WSGI_APPLICATION = "mailroom.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


DATABASES = {"default": shape.database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(DATA_DIR / "files")},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # filled by collectstatic in `mailroom run`

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "mailbox-list"
LOGOUT_REDIRECT_URL = "login"

# Sign-in: django-axes counts failed logins per account and per address (either locks), and a
# locked-out login gets the login page with the reason (mailroom.people.signin).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = conf.LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=conf.LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# A success forgets only the failures against the account that logged in (see
# mailroom.people.signin.forget_own_failures): axes' own reset would also forget every failure
# from the same address, so an agent could guess a colleague's password between own logins.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "mailroom.people.signin.lockout_response"
AXES_USERNAME_CALLABLE = "mailroom.people.signin.attempted_username"
AXES_CLIENT_IP_CALLABLE = "mailroom.people.signin.client_address"
AXES_VERBOSE = False

SESSION_COOKIE_AGE = conf.SESSION_HOURS * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = conf.SESSION_BROWSER_CLOSE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if conf.HTTPS:
    # TLS ends at the reverse proxy, which says so in X-Forwarded-Proto (it must set the
    # header itself, never pass on a client's).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # Only this host, no preload list: a site can still leave HTTPS by lowering the figure.
    SECURE_HSTS_SECONDS = conf.HSTS_SECONDS
    SECURE_HSTS_INCLUDE_SUBDOMAINS = False
    SECURE_HSTS_PRELOAD = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"mailroom": {"level": conf.env_str("MAILROOM_LOG_LEVEL", "INFO")}},
}
