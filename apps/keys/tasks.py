from celery import shared_task

from . import expiry


@shared_task(name="apps.keys.tasks.notify_expired_keys")
def notify_expired_keys() -> int:
    return expiry.api_keys_expired_notify()
