from celery import shared_task

from . import services


@shared_task(name="apps.billing.tasks.send_low_balance_emails")
def send_low_balance_emails() -> int:
    return services.low_balance_notify()
