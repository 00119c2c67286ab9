"""Scheduled jobs of the money engine: thin, idempotent wrappers around the services."""

from celery import shared_task

from .services.claims import claims_flag_overdue, ledger_void_lapsed
from .services.mdf import mdf_expire_lapsed


@shared_task(acks_late=True, name="incentives.flag_overdue_claims")
def flag_overdue_claims() -> int:
    """Daily: claims past their 5-business-day verification SLA are flagged to managers."""
    return claims_flag_overdue()


@shared_task(acks_late=True, name="incentives.void_lapsed")
def void_lapsed() -> int:
    """Daily: void SPIFFs and bonuses never claimed in their window, and rejected claims'
    entries never disputed."""
    return ledger_void_lapsed()


@shared_task(acks_late=True, name="incentives.expire_mdf")
def expire_mdf() -> int:
    """Daily: approved MDF requests whose claim window closed release their reservation."""
    return mdf_expire_lapsed()
