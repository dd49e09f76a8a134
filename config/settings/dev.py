"""``make run``: the whole product on embedded defaults, on one machine."""

import os

from .base import *  # noqa: F403
from .base import VAR_DIR

# Off unless asked for (DEBUG=1): the site's own 404 and 500 pages show, as in production.
# Static files are served by whitenoise from the finders either way.
DEBUG = os.environ.get("DEBUG", "0") not in {"0", "false", "False", ""}
SECRET_KEY = os.environ.get("SECRET_KEY") or "django-insecure-dev-only-not-for-production"
# No collectstatic needed on the embedded default: whitenoise serves straight from the finders.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# var/ holds the database (e-mails, kept prompts), the mail and the broker's files: this user's
# alone. Files created from now on are private too (web, worker and beat read these settings).
os.umask(0o077)
for sub in ("mail", "celery/queue", "celery/processed", "celery/control"):
    (VAR_DIR / sub).mkdir(parents=True, exist_ok=True)
VAR_DIR.chmod(0o700)
# make run logs each request (uvicorn's access lines) through the same handler: one format, and
# the keys in e-mail confirmation and password reset links never written. (Production serves
# with --no-access-log: a handler here would switch uvicorn's access log back on.)
LOGGING["loggers"]["uvicorn.access"] = {  # noqa: F405
    "handlers": ["console"],
    "level": "INFO",
    "propagate": False,
}
API_KEY_HMAC_SECRET = API_KEY_HMAC_SECRET or "dev-only-api-key-secret"  # noqa: F405
