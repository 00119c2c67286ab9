"""Scheduled jobs of deal registration: thin wrappers around the services.

Each is idempotent and safe to run twice at once (rows are claimed with SKIP LOCKED or a
conditional UPDATE inside the services).
"""

from celery import shared_task

from . import services


@shared_task(acks_late=True, name="deals.auto_approve")
def auto_approve() -> int:
    """Every 15 minutes: approve pending registrations past the 48-hour approval SLA."""
    return services.deals_auto_approve()


@shared_task(acks_late=True, name="deals.expire_lapsed")
def expire_lapsed() -> int:
    """Daily: mark registrations whose protection ended as expired."""
    return services.deals_expire_lapsed()


@shared_task(acks_late=True, name="deals.escalate_conflicts")
def escalate_conflicts() -> int:
    """Every 15 minutes: conflict cases past their SLA go to the channel chief."""
    return services.conflicts_escalate_overdue()


@shared_task(acks_late=True, name="deals.summarize_quarters")
def summarize_quarters() -> list[str]:
    """Nightly: sum each partner's deals of the open quarter, and of ended quarters not yet
    summed to their end (the dashboards read these sums)."""
    return services.deal_quarters_summarize()
