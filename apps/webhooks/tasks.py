from celery import shared_task

from . import selectors, services


@shared_task(name="apps.webhooks.tasks.deliver_endpoint")
def deliver_endpoint(endpoint_id: int) -> int:
    """Send what is due for one endpoint, in order (queued when an event commits)."""
    return services.endpoint_deliver(endpoint_id=endpoint_id)


@shared_task(name="apps.webhooks.tasks.deliver_due")
def deliver_due() -> int:
    """The beat: every endpoint whose next delivery (a retry, or one queued while a broker was
    away) is due gets a sender."""
    due = selectors.endpoints_due()
    for endpoint_id in due:
        deliver_endpoint.delay(endpoint_id)
    return len(due)


@shared_task(name="apps.webhooks.tasks.prune")
def prune() -> int:
    return services.webhooks_prune()
