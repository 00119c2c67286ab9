"""The business figures on /metrics, read from the database at each scrape.

``prm.metrics`` serves them; this app, the top of the stack, registers the collector
(``ScoringConfig.ready``) because only it may read every app. Four small queries per
scrape, each on an index or a table of a row per quarter. Every web replica answers the
same figures: aggregate them with ``max``, not ``sum``.

The failed Celery tasks are ``prm_celery_task_failed_total`` (prm.metrics), counted as
they fail rather than read here: the broker keeps no history of them.
"""

import logging
from datetime import datetime

from django.db import DatabaseError
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from deals.queries import registrations_past_approval_sla
from incentives.queries import claims_past_verification_sla

from .models import QuarterClose
from .queries import failed_quarter_closes, last_quarter_close

logger = logging.getLogger(__name__)


def _close_seconds(close: QuarterClose, now: datetime) -> float | None:
    """How long the close ran, or has been running; None before it has started."""
    if close.started_at is None:
        return None
    if close.state == QuarterClose.State.RUNNING or close.finished_at is None:
        return (now - close.started_at).total_seconds()
    return (close.finished_at - close.started_at).total_seconds()


class BusinessCollector:
    def describe(self) -> list:
        return []  # nothing to read while the apps load

    def collect(self) -> list[GaugeMetricFamily]:
        try:
            families = self._families(timezone.now())
        except DatabaseError as exc:
            logger.warning("Metrics: business figures unavailable: %s", exc)
            families = []
        up = GaugeMetricFamily(
            "prm_business_metrics_up",
            "1 when the business figures below could be read from the database, else 0.",
            value=1 if families else 0,
        )
        return [up, *families]

    def _families(self, now: datetime) -> list[GaugeMetricFamily]:
        families = [
            GaugeMetricFamily(
                "prm_registrations_past_approval_sla",
                "Pending deal registrations whose approval SLA has passed.",
                value=registrations_past_approval_sla(now),
            ),
            GaugeMetricFamily(
                "prm_incentive_claims_past_verification_sla",
                "Incentive claims still awaiting verification after their verify-by day.",
                value=claims_past_verification_sla(timezone.localdate(now)),
            ),
            GaugeMetricFamily(
                "prm_quarter_closes_failed",
                "Quarter closes whose last run failed.",
                value=failed_quarter_closes(),
            ),
        ]
        close = last_quarter_close()
        if close is None:
            return families
        state = GaugeMetricFamily(
            "prm_quarter_close_last_state",
            "The state of the latest quarter's close: 1 for its state, 0 for the others.",
            labels=["quarter", "state"],
        )
        for value in QuarterClose.State.values:
            state.add_metric([close.quarter, value], 1 if close.state == value else 0)
        families.append(state)
        seconds = _close_seconds(close, now)
        if seconds is not None:
            duration = GaugeMetricFamily(
                "prm_quarter_close_last_duration_seconds",
                "How long the latest quarter's close ran (so far, while it runs).",
                labels=["quarter"],
            )
            duration.add_metric([close.quarter], seconds)
            families.append(duration)
        return families
