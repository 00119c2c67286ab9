"""Retention: what the database stops keeping, and when (README "Configuration",
docs/reliability.md "Retention").

Each kind of record has one prune: a function ``(now=…, dry_run=…) -> int`` that deletes
(or rolls up) the records past their age in batches of ``BATCH_SIZE`` and returns how
many, or with ``dry_run`` only counts them. The prunes of the shared layer are here
(sessions, the admin's log, the change history, sign-in records, anonymous form posts);
an app with records of its own registers its prune from its ``AppConfig.ready`` (the
partners' read notices, enablement's portal-login days). The nightly job
(``prm.tasks.prune``) and ``manage.py prune`` run them all. Each is idempotent: a second
run finds nothing left to do.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

BATCH_SIZE = 5000  # ids per DELETE: short statements, short locks, steady progress

Prune = Callable[..., int]
_prunes: dict[str, Prune] = {}


def register(kind: str, prune: Prune) -> None:
    """Add the prune of ``kind`` (a short name the command prints) to the nightly run."""
    _prunes[kind] = prune


def registered() -> dict[str, Prune]:
    return dict(_prunes)


def prune_all(*, now: datetime | None = None, dry_run: bool = False) -> dict[str, int]:
    """Run every prune, in the order registered; returns the count of each kind."""
    now = now or timezone.now()
    return {kind: prune(now=now, dry_run=dry_run) for kind, prune in registered().items()}


def delete_in_batches(queryset: QuerySet, *, dry_run: bool, batch_size: int = BATCH_SIZE) -> int:
    """Delete the rows of ``queryset`` a batch of ids at a time, each batch its own
    transaction, until none is left; returns how many (``dry_run``: counts them only)."""
    if dry_run:
        return queryset.count()
    model = queryset.model
    total = 0
    while ids := list(queryset.order_by().values_list("pk", flat=True)[:batch_size]):
        with transaction.atomic():
            model._base_manager.filter(pk__in=ids).delete()
        total += len(ids)
    return total


# ---------------------------------------------------------------- the shared layer's prunes


def sessions_prune(*, now: datetime, dry_run: bool = False) -> int:
    """Expired sessions (Django keeps them until they are cleared)."""
    from django.contrib.sessions.models import Session

    return delete_in_batches(Session.objects.filter(expire_date__lt=now), dry_run=dry_run)


def admin_log_prune(*, now: datetime, dry_run: bool = False) -> int:
    """The admin's own log of changes ("Recent actions") older than
    ``ADMIN_LOG_RETENTION_DAYS``. The records that matter for audit are the change
    history's, kept far longer."""
    from django.contrib.admin.models import LogEntry

    cutoff = now - timedelta(days=settings.ADMIN_LOG_RETENTION_DAYS)
    return delete_in_batches(LogEntry.objects.filter(action_time__lt=cutoff), dry_run=dry_run)


def historical_models() -> list:
    """Every model's change-history table (django-simple-history)."""
    from simple_history.models import HistoricalChanges

    return [model for model in apps.get_models() if issubclass(model, HistoricalChanges)]


def history_cutoff(now: datetime) -> datetime:
    """History records from before this moment are pruned: ``HISTORY_RETENTION_YEARS``
    calendar years before ``now`` (29 February falls back to the 28th)."""
    years = settings.HISTORY_RETENTION_YEARS
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)


def history_prune(*, now: datetime, dry_run: bool = False) -> int:
    """Change-history records (who changed what, when) older than
    ``HISTORY_RETENTION_YEARS``, in every history table. Younger ones are never touched."""
    cutoff = history_cutoff(now)
    return sum(
        delete_in_batches(model.objects.filter(history_date__lt=cutoff), dry_run=dry_run)
        for model in historical_models()
    )


def sign_in_records_prune(*, now: datetime, dry_run: bool = False) -> int:
    """axes' records of sign-in attempts (failures, lockout counters, the access log)
    older than ``SIGN_IN_RECORDS_RETENTION_DAYS``, far past any cool-off."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    cutoff = now - timedelta(days=settings.SIGN_IN_RECORDS_RETENTION_DAYS)
    return sum(
        delete_in_batches(model.objects.filter(attempt_time__lt=cutoff), dry_run=dry_run)
        for model in (AccessAttempt, AccessFailureLog, AccessLog)
    )


def form_posts_prune(*, now: datetime, dry_run: bool = False) -> int:
    """Counted anonymous form posts older than a day (the limit counts one hour)."""
    from .models import FormPost
    from .throttles import FORM_POST_KEPT

    return delete_in_batches(
        FormPost.objects.filter(posted_at__lt=now - FORM_POST_KEPT), dry_run=dry_run
    )


def register_shared_prunes() -> None:
    register("expired sessions", sessions_prune)
    register("admin log entries", admin_log_prune)
    register("history records", history_prune)
    register("sign-in records", sign_in_records_prune)
    register("anonymous form posts", form_posts_prune)
