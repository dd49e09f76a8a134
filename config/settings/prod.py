"""Production: PostgreSQL, Redis, SMTP, HTTPS. Secrets have no defaults here."""

import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env_bool

DEBUG = False
# Production serves real providers only; models without a configured key are absent.
DEMO_UPSTREAM_ENABLED = env_bool("OPENCODEX_DEMO_UPSTREAM", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure") or len(set(SECRET_KEY)) < 5:
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a long random value in production (50+ characters), e.g. "
        "python -c 'import secrets; print(secrets.token_urlsafe(64))'"
    )
if not API_KEY_HMAC_SECRET:  # noqa: F405
    import hashlib

    API_KEY_HMAC_SECRET = hashlib.sha256(b"opencodex-api-keys:" + SECRET_KEY.encode()).hexdigest()
for name, why in (
    ("DATABASE_URL", "PostgreSQL, the source of truth for keys and money"),
    ("REDIS_URL", "the cache every web process shares (revocations, rate limits)"),
):
    if not os.environ.get(name):
        raise ImproperlyConfigured(f"{name} must be set in production: {why}.")
if not os.environ.get("ALLOWED_HOSTS"):
    raise ImproperlyConfigured("ALLOWED_HOSTS must list the site's host names in production.")

# Webhooks go to public internet addresses only, whatever the environment says (SSRF).
WEBHOOK_ALLOW_PRIVATE_URLS = False

# One JSON object per log line, with the request id, unless LOG_FORMAT=plain.
if os.environ.get("LOG_FORMAT", "json") == "json":
    LOGGING["handlers"]["console"]["formatter"] = "json"  # noqa: F405

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"
