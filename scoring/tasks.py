"""Scheduled jobs of the program: the quarter close, the daily red-flag refresh and the
quarter's QBRs.

Thin and idempotent: they call the services, which claim their work (a lock per quarter
for the close; one open flag per partner and kind), so a retry or a second run at the
same time adds nothing.
"""

import functools
import logging

from celery import current_app, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from prm.quarters import Quarter

from .services.close import (
    CloseInProgress,
    CloseRefused,
    quarter_close,
    quarter_close_sent,
    quarter_close_stopped,
    quarter_closes_claim_stale,
    red_flags_refresh,
)

logger = logging.getLogger(__name__)


# The close's own time limits (settings): far above its bench figure, under the broker's
# visibility timeout.
CLOSE_TIME_LIMITS = {
    "soft_time_limit": settings.QUARTER_CLOSE_SOFT_TIME_LIMIT,
    "time_limit": settings.QUARTER_CLOSE_TIME_LIMIT,
}


@shared_task(acks_late=True, name="scoring.close_quarter", **CLOSE_TIME_LIMITS)
def close_quarter(quarter: str, user_id: int | None = None) -> dict:
    """A requested close. A message that arrives after its close finished (sent twice: the
    sweep does not know whether a worker has it yet) does nothing; one redelivered after a
    worker died mid-close finds it running, and takes it over once its heartbeat is stale."""
    from partners.models import User

    from .models import QuarterClose

    finished = (QuarterClose.State.DONE, QuarterClose.State.FAILED)
    if QuarterClose.objects.filter(quarter=quarter, state__in=finished).exists():
        return {"quarter": quarter, "state": "finished already"}
    by = User.objects.filter(pk=user_id).first() if user_id else None
    return _run_close(quarter, by)


def _run_close(quarter: str, by) -> dict:
    try:
        close = quarter_close(quarter=quarter, by=by)
    except CloseInProgress:
        return {"quarter": quarter, "state": "running elsewhere"}
    except CloseRefused as exc:
        # Nothing was closed, and a retry would be refused again.
        logger.warning("The close of %s is refused: %s", quarter, exc)
        return {"quarter": quarter, "state": "refused", "code": exc.code, "reason": str(exc)}
    except SoftTimeLimitExceeded:
        # The close stopped between two statements: the batches it committed stay (a rerun
        # overwrites them), and its row says failed, and why, rather than running forever.
        reason = quarter_close_stopped(
            quarter, limit_seconds=settings.QUARTER_CLOSE_SOFT_TIME_LIMIT
        )
        logger.error("The close of %s was stopped: %s", quarter, reason)
        return {"quarter": quarter, "state": "failed", "reason": reason}
    return {"quarter": close.quarter, "state": close.state, "partners": close.partners_total}


# One connection attempt, a short wait: a request must not hang on a dead broker.
CONNECT_TIMEOUT_SECONDS = 2


def close_enqueue(close) -> None:
    """Send a requested close (its ``QuarterClose`` row, queued) to the broker once the
    current transaction commits, with one quick attempt. If the broker does not answer,
    the row stays queued and ``requeue_closes`` sends it later: the request carries on."""
    transaction.on_commit(
        functools.partial(_send_close, close.quarter, close.requested_by_id), robust=True
    )


def _send_close(quarter: str, user_id: int | None) -> bool:
    try:
        with current_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=0, timeout=CONNECT_TIMEOUT_SECONDS)
            close_quarter.apply_async((quarter, user_id), connection=connection, retry=False)
    except Exception as exc:  # any failure to publish: the sweep sends it later
        logger.warning("Broker unavailable; the close of %s stays queued: %s", quarter, exc)
        return False
    quarter_close_sent(quarter)
    return True


@shared_task(name="scoring.requeue_closes")
def requeue_closes() -> int:
    """Every few minutes: send again the closes still queued a while after they were last
    sent (the broker was down, or the message was lost). Each is claimed first, so two
    sweeps at once send it once; a duplicate that still reaches a worker finds the close
    running or done, and a close run twice gives the same results."""
    return sum(
        _send_close(close.quarter, close.requested_by_id) for close in quarter_closes_claim_stale()
    )


@shared_task(acks_late=True, name="scoring.close_previous_quarter", **CLOSE_TIME_LIMITS)
def close_previous_quarter() -> dict:
    """On the first day of a quarter (02:00): close the quarter that just ended."""
    quarter = Quarter.containing(timezone.localdate()).previous()
    return _run_close(quarter.label, None)


@shared_task(acks_late=True, name="scoring.refresh_red_flags")
def refresh_red_flags() -> dict:
    return red_flags_refresh()


@shared_task(bind=True, acks_late=True, name="scoring.schedule_qbrs", max_retries=18)
def schedule_qbrs(self) -> dict:
    """On the first day of a quarter (03:00, after the close): schedule and prepare the
    quarter's QBRs. While the close of the quarter they review is still queued or running,
    try again in ten minutes, so that the sections start from its scorecards; after three
    hours, go ahead anyway (a close that never finishes does not hold the QBRs back, and
    their sections can be refreshed later)."""
    from .models import QuarterClose
    from .services.reviews import qbr_schedule_quarter

    quarter = Quarter.containing(timezone.localdate())
    closing = QuarterClose.objects.filter(
        quarter=quarter.previous().label,
        state__in=(QuarterClose.State.QUEUED, QuarterClose.State.RUNNING),
    ).exists()
    if closing and self.request.retries < self.max_retries:
        raise self.retry(countdown=600)
    return qbr_schedule_quarter(quarter=quarter.label)
