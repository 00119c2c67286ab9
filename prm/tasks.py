"""Celery tasks of the shared layer."""

from celery import shared_task

from . import outbox


@shared_task(name="prm.send_pending_tasks")
def send_pending_tasks() -> int:
    """Every minute: send the tasks that waited in the outbox while the broker was down."""
    total = 0
    while sent := outbox.send_pending():
        total += sent
    return total
