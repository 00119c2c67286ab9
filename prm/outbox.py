"""Queue Celery tasks so that a broker outage neither fails nor holds up a request.

``enqueue(task, *args)`` writes a ``PendingTask`` row in the caller's transaction and,
once it commits, hands the task to the broker with one quick connection attempt. If the
broker does not answer the row stays, the request carries on, and the task goes out with
the next successful send or the drain Celery beat runs every minute
(``prm.send_pending_tasks``). Sending is at least once: a crash between the broker's
acceptance and the row's deletion sends it again, so queued tasks must be idempotent
(the project's are: they claim their rows, or key what they write).
"""

import logging

from celery import current_app
from django.db import transaction
from django.db.models import F

from .models import PendingTask

logger = logging.getLogger(__name__)

# One connection attempt, a short wait: a request must not hang on a dead broker.
CONNECT_TIMEOUT_SECONDS = 2
BATCH = 100


def enqueue(task, *args, **kwargs) -> PendingTask:
    """Send ``task(*args, **kwargs)`` to the broker after the current transaction commits;
    keep it in the outbox until the broker has it."""
    name = task if isinstance(task, str) else task.name
    row = PendingTask.objects.create(task=name, args=list(args), kwargs=kwargs)
    transaction.on_commit(lambda: send_pending(first=row.pk), robust=True)
    return row


def send_pending(*, first: int | None = None, limit: int = BATCH) -> int:
    """Hand pending tasks to the broker (``first`` before the others); returns how many
    went. Rows are claimed with SKIP LOCKED, so two senders never send one row twice."""
    sent = 0
    with transaction.atomic():
        pending = PendingTask.objects.select_for_update(skip_locked=True)
        rows = list(pending.filter(pk=first)) if first is not None else []
        rows += list(pending.exclude(pk=first).order_by("pk")[:limit])
        if not rows:
            return 0
        try:
            with current_app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=0, timeout=CONNECT_TIMEOUT_SECONDS)
                for row in rows:
                    current_app.send_task(
                        row.task,
                        args=row.args,
                        kwargs=row.kwargs,
                        connection=connection,
                        retry=False,
                    )
                    row.delete()
                    sent += 1
        except Exception as exc:  # any failure to publish: the rest waits for the next try
            unsent = [row.pk for row in rows[sent:]]
            PendingTask.objects.filter(pk__in=unsent).update(
                attempts=F("attempts") + 1, last_error=f"{type(exc).__name__}: {exc}"[:500]
            )
            logger.warning(
                "Broker unavailable; %d task(s) wait in the outbox: %s", len(unsent), exc
            )
    return sent
