"""Scheduled jobs of the partners app: thin, idempotent wrappers around the services."""

from celery import shared_task

from .services import leads
from .services.notices import notice_digests_send


@shared_task(acks_late=True, name="partners.leads_pull_back")
def leads_pull_back() -> int:
    """Every 15 minutes: pull back lead offers left unanswered past their window and offer
    the leads to the next match (RULEBOOK §11). Safe to run twice at once (SKIP LOCKED)."""
    return leads.leads_pull_back()


@shared_task(acks_late=True, name="partners.send_notice_digests")
def send_notice_digests() -> int:
    """Daily: each person who chose a digest for some kinds of notice gets it (once a day)."""
    return notice_digests_send()
