"""Scheduled jobs of the partners app: thin wrappers around the services."""

from celery import shared_task

from .services import leads


@shared_task(acks_late=True, name="partners.leads_pull_back")
def leads_pull_back() -> int:
    """Every 15 minutes: pull back lead offers left unanswered past their window and offer
    the leads to the next match (RULEBOOK §11). Safe to run twice at once (SKIP LOCKED)."""
    return leads.leads_pull_back()
