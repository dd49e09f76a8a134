from celery import shared_task

from . import services


@shared_task(name="apps.catalog.tasks.probe_disabled_deployments")
def probe_disabled_deployments() -> dict:
    """Deployments out of service get a one-token request; those that answer come back."""
    return services.deployments_probe_disabled()


@shared_task(name="apps.catalog.tasks.deployment_disabled_alert")
def deployment_disabled_alert(name: str, reason: str) -> int:
    return services.deployment_disabled_alert(name=name, reason=reason)
