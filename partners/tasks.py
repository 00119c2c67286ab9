"""Scheduled jobs of the partners app: thin, idempotent wrappers around the services."""

from celery import shared_task

from .services.notices import notice_digests_send


@shared_task(acks_late=True, name="partners.send_notice_digests")
def send_notice_digests() -> int:
    """Daily: each person who chose a digest for some kinds of notice gets it (once a day)."""
    return notice_digests_send()
