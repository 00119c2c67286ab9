"""Scheduled jobs of enablement: thin, idempotent wrappers around the services."""

from celery import shared_task

from . import services


@shared_task(acks_late=True, name="enablement.remind_expiring_certifications")
def remind_expiring_certifications() -> int:
    """Daily: remind holders 30 days before a certification expires (once each)."""
    return services.certifications_remind_expiring()
