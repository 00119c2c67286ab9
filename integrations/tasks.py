from celery import shared_task
from django.conf import settings

from . import services
from .models import CrmConnection


@shared_task(name="integrations.events_deliver", acks_late=True)
def events_deliver(event_ids: list[int]) -> int:
    return services.events_deliver(event_ids=event_ids)


@shared_task(name="integrations.events_resend_stale")
def events_resend_stale() -> int:
    return services.events_resend_stale()


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
