import os

from celery import Celery

# Servers and workers run production settings unless told otherwise (make run says dev).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.prod")

app = Celery("opencodex")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def broker_ping() -> None:
    """The readiness probe of the Celery broker."""
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
