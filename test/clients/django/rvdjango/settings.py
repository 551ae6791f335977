"""A minimal Django project for the client tests: one app, Django REST
framework, no authentication.  The database is named by RV_DJANGO_DB; the
server and credentials come from libpq's environment (PGHOST, PGPORT,
PGUSER, PGPASSWORD)."""

import os

SECRET_KEY = "client-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "rvdjango.urls"
INSTALLED_APPS = ["rest_framework", "rvdjango"]
MIDDLEWARE = ["rvdjango.middleware.IfMatchMiddleware"]
# RV_DJANGO_HOOK=0: the middleware registers no precondition (to show what
# that registration does); it still answers ETags
RV_EXPECT_MATCH = os.environ.get("RV_DJANGO_HOOK") != "0"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("RV_DJANGO_DB", "rv_client_django"),
        # each view in a transaction of its own
        "ATOMIC_REQUESTS": True,
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # RV001 -> 409 with a readable message, instead of a 500
    "EXCEPTION_HANDLER": "rvdjango.errors.exception_handler",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # one line per request and per 4xx is noise here; 500s still show
    "loggers": {
        "django.server": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
