"""Scheduled jobs of the program: the quarter close, the daily red-flag refresh and the
quarter's QBRs.

Thin and idempotent: they call the services, which claim their work (a lock per quarter
for the close; one open flag per partner and kind), so a retry or a second run at the
same time adds nothing.
"""

import logging

from celery import shared_task
from django.utils import timezone

from prm.quarters import Quarter

from . import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, name="scoring.close_quarter")
def close_quarter(quarter: str, user_id: int | None = None) -> dict:
    from partners.models import User

    by = User.objects.filter(pk=user_id).first() if user_id else None
    try:
        close = services.quarter_close(quarter=quarter, by=by)
    except services.CloseInProgress:
        return {"quarter": quarter, "state": "running elsewhere"}
    except services.CloseRefused as exc:
        # Nothing was closed, and a retry would be refused again.
        logger.warning("The close of %s is refused: %s", quarter, exc)
        return {"quarter": quarter, "state": "refused", "code": exc.code, "reason": str(exc)}
    return {"quarter": close.quarter, "state": close.state, "partners": close.partners_total}


@shared_task(acks_late=True, name="scoring.close_previous_quarter")
def close_previous_quarter() -> dict:
    """On the first day of a quarter (02:00): close the quarter that just ended."""
    quarter = Quarter.containing(timezone.localdate()).previous()
    return close_quarter(quarter.label)


@shared_task(acks_late=True, name="scoring.refresh_red_flags")
def refresh_red_flags() -> dict:
    return services.red_flags_refresh()


@shared_task(bind=True, acks_late=True, name="scoring.schedule_qbrs", max_retries=18)
def schedule_qbrs(self) -> dict:
    """On the first day of a quarter (03:00, after the close): schedule and prepare the
    quarter's QBRs. While the close of the quarter they review is still queued or running,
    try again in ten minutes, so that the sections start from its scorecards; after three
    hours, go ahead anyway (a close that never finishes does not hold the QBRs back, and
    their sections can be refreshed later)."""
    from .models import QuarterClose
    from .qbr_services import qbr_schedule_quarter

    quarter = Quarter.containing(timezone.localdate())
    closing = QuarterClose.objects.filter(
        quarter=quarter.previous().label,
        state__in=(QuarterClose.State.QUEUED, QuarterClose.State.RUNNING),
    ).exists()
    if closing and self.request.retries < self.max_retries:
        raise self.retry(countdown=600)
    return qbr_schedule_quarter(quarter=quarter.label)
