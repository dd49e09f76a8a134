from celery import shared_task

from . import services


@shared_task(name="apps.credits.tasks.release_expired_holds")
def release_expired_holds() -> int:
    return services.credits_release_expired_holds()
