import logging

from celery import shared_task
from django.conf import settings

from . import services
from .models import CrmConnection

logger = logging.getLogger(__name__)


@shared_task(name="integrations.events_deliver", acks_late=True)
def events_deliver(event_ids: list[int]) -> int:
    return services.events_deliver(event_ids=event_ids)


@shared_task(name="integrations.events_resend_stale")
def events_resend_stale() -> int:
    return services.events_resend_stale()


# An attempt is one HTTP request of at most a few seconds' connecting and ten seconds a
# read (integrations.webhooks): well inside these limits, which bound a receiver that
# answers a byte at a time.
WEBHOOK_SOFT_TIME_LIMIT = 30
WEBHOOK_TIME_LIMIT = 40


def broker_held_wait_max() -> int:
    """The longest wait (seconds) a retry may spend as a message held by a worker: it must
    run and be acknowledged before the broker's visibility timeout hands it out again
    (prm/settings/base.py). Longer waits stay in the database for the sweep."""
    return settings.BROKER_VISIBILITY_TIMEOUT - WEBHOOK_TIME_LIMIT - 60


@shared_task(
    bind=True,
    name="integrations.webhook_deliver",
    acks_late=True,
    soft_time_limit=WEBHOOK_SOFT_TIME_LIMIT,
    time_limit=WEBHOOK_TIME_LIMIT,
    max_retries=None,  # the delivery's row counts its attempts (webhooks.RETRY_SCHEDULE)
)
def webhook_deliver(self, delivery_id: int) -> str:
    """One attempt of a webhook delivery; a failure is retried through Celery after the
    schedule's wait when the broker can hold the message that long, otherwise by the sweep
    (``webhook_deliveries_due``) once it is due. A copy of the message that arrives when
    the attempt is not due, or is taken, does nothing."""
    attempt = services.webhook_delivery_attempt(delivery_id=delivery_id)
    if attempt is None:
        return "nothing to do"
    if attempt.retry_in is not None:
        countdown = int(attempt.retry_in.total_seconds())
        if countdown <= broker_held_wait_max():
            raise self.retry(countdown=countdown)
    return attempt.delivery.status


@shared_task(name="integrations.webhook_deliveries_due")
def webhook_deliveries_due() -> int:
    return services.webhook_deliveries_due()


CRM_LIMITS = {
    "soft_time_limit": settings.CRM_SYNC_SOFT_TIME_LIMIT,
    "time_limit": settings.CRM_SYNC_TIME_LIMIT,
}


@shared_task(name="integrations.crm_sync", **CRM_LIMITS)
def crm_sync(connection_id: int) -> str:
    from .crm.services import crm_sync as run

    connection = CrmConnection.objects.filter(pk=connection_id, enabled=True).first()
    if connection is None:
        return "not enabled"
    return str(run(connection=connection))


@shared_task(name="integrations.crm_push", **CRM_LIMITS)
def crm_push(connection_id: int) -> str:
    from .crm.services import crm_sync as run

    connection = CrmConnection.objects.filter(pk=connection_id, enabled=True).first()
    if connection is None:
        return "not enabled"
    return str(run(connection=connection, pull=False))


@shared_task(name="integrations.crm_sync_all", **CRM_LIMITS)
def crm_sync_all() -> int:
    """On beat: a run of every enabled connection, each a task of its own."""
    ids = list(CrmConnection.objects.filter(enabled=True).values_list("pk", flat=True))
    for connection_id in ids:
        crm_sync.delay(connection_id)
    return len(ids)
