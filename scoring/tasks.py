"""Scheduled jobs of the program: the quarter close and the daily red-flag refresh.

Thin and idempotent: they call the services, which claim their work (a lock per quarter
for the close; one open flag per partner and kind), so a retry or a second run at the
same time adds nothing.
"""

from celery import shared_task
from django.utils import timezone

from prm.quarters import Quarter

from . import services


@shared_task(acks_late=True, name="scoring.close_quarter")
def close_quarter(quarter: str, user_id: int | None = None) -> dict:
    from partners.models import User

    by = User.objects.filter(pk=user_id).first() if user_id else None
    try:
        close = services.quarter_close(quarter=quarter, by=by)
    except services.CloseInProgress:
        return {"quarter": quarter, "state": "running elsewhere"}
    return {"quarter": close.quarter, "state": close.state, "partners": close.partners_total}


@shared_task(acks_late=True, name="scoring.close_previous_quarter")
def close_previous_quarter() -> dict:
    """On the first day of a quarter (02:00): close the quarter that just ended."""
    quarter = Quarter.containing(timezone.localdate()).previous()
    return close_quarter(quarter.label)


@shared_task(acks_late=True, name="scoring.refresh_red_flags")
def refresh_red_flags() -> dict:
    return services.red_flags_refresh()
