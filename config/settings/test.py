"""``make test``: the real PostgreSQL and Redis on 127.0.0.1 (override with the usual URLs)."""

import os
import tempfile

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("CACHE_KEY_PREFIX", "ocx-test")

from .base import *  # noqa: F403
from .base import DATABASES

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production"
DATABASES["default"]["CONN_MAX_AGE"] = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = {}
ALLOWED_HOSTS = ["*"]
WHITENOISE_AUTOREFRESH = True
API_KEY_HMAC_SECRET = "test-api-key-secret"
GATEWAY_JOURNAL_DIR = os.environ.get("GATEWAY_JOURNAL_DIR") or tempfile.mkdtemp(
    prefix="ocx-test-journal-"
)  # this run's own (removed when the run ends: tests/conftest.py)
OWN_JOURNAL_DIR = "GATEWAY_JOURNAL_DIR" not in os.environ
READINESS_CACHE_SECONDS = 0  # every call probes (tests change the dependencies)
DEMO_STREAM_DELAY_MS = 0  # the demo upstream streams at once (tests measure behaviour, not pace)
