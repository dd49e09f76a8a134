"""Hand work to Celery by the task's registered name, so services never import ``tasks.py``
(tasks import services; the arrow points one way). The task is looked up in the app's registry,
so ``CELERY_TASK_ALWAYS_EAGER`` (tests) runs it in place, as ``.delay`` would."""

import logging

from celery import current_app
from django.db import transaction

log = logging.getLogger("opencodex.queue")


def enqueue(name: str, *args, strict: bool = False) -> None:
    """Queue the task ``name`` with ``args`` now. A broker that cannot take it is logged, not
    raised: whatever called this has committed already, and the beat or a retry catches up
    (``strict``: raised, for a caller with a fallback of its own)."""
    try:
        if name not in current_app.tasks:  # tasks modules are discovered lazily
            current_app.loader.import_default_modules()
        current_app.tasks[name].apply_async(args)
    except Exception:
        if strict:
            raise
        log.exception("task %s%r could not be queued", name, args)


def enqueue_on_commit(name: str, *args) -> None:
    """Queue the task once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: enqueue(name, *args))
