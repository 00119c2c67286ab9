from celery import shared_task

from . import services


@shared_task(name="integrations.events_deliver", acks_late=True)
def events_deliver(event_ids: list[int]) -> int:
    return services.events_deliver(event_ids=event_ids)


@shared_task(name="integrations.events_resend_stale")
def events_resend_stale() -> int:
    return services.events_resend_stale()
