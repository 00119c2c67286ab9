"""Publishing events (the higher apps call ``event_publish`` in their transaction) and
handing them to what delivers them once the transaction commits."""

import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from prm.retention import delete_in_batches

from .models import Event, EventKind

# What receives each committed event: webhooks, the CRM's outbound sync. Each registers a
# function ``(events: list[Event]) -> None`` from its module; they run in a Celery task.
Deliverer = Callable[[list[Event]], None]
_deliverers: dict[str, Deliverer] = {}


def deliverer_register(name: str, deliver: Deliverer) -> None:
    _deliverers[name] = deliver


def deliverers() -> dict[str, Deliverer]:
    return dict(_deliverers)


def events_publish(events: Iterable[tuple[int, str, dict]]) -> list[Event]:
    """Record events ``(partner_id, kind, data)`` in the caller's transaction, and have
    them delivered after it commits (nothing is delivered for a change rolled back)."""
    rows = []
    for partner_id, kind, data in events:
        if kind not in EventKind.values:
            raise ValueError(f"Unknown event kind {kind!r}.")
        rows.append(Event(partner_id=partner_id, kind=kind, data=data))
    if not rows:
        return []
    rows = Event.objects.bulk_create(rows)
    _pending.__dict__.setdefault("ids", []).extend(row.pk for row in rows)
    transaction.on_commit(_send_pending)
    return rows


# The events published in this thread's transaction, sent in one task when it commits
# (a transaction that records a thousand wins sends one task, not a thousand).
_pending = threading.local()
SEND_BATCH = 1000


def _send_pending() -> None:
    """After a commit: send what this thread published. The first callback of the
    transaction sends everything, the others find nothing left; ids of events rolled back
    with a savepoint are skipped by ``events_deliver``."""
    from .tasks import events_deliver

    ids, _pending.ids = _pending.__dict__.get("ids", []), []
    for start in range(0, len(ids), SEND_BATCH):
        events_deliver.delay(ids[start : start + SEND_BATCH])


def event_publish(*, partner_id: int, kind: str, data: dict) -> Event:
    """One event; see ``events_publish``."""
    return events_publish([(partner_id, kind, data)])[0]


def events_deliver(*, event_ids: list[int]) -> int:
    """Hand the events not yet handed over to every deliverer, oldest first, in one
    transaction with marking them handed (so a second run of the task hands nothing
    twice). Returns how many events were handed."""
    with transaction.atomic():
        events = list(
            Event.objects.select_for_update(skip_locked=True)
            .filter(pk__in=event_ids, handed_at__isnull=True)
            .order_by("occurred_at", "pk")
        )
        if not events:
            return 0
        for deliver in deliverers().values():
            deliver(events)
        Event.objects.filter(pk__in=[e.pk for e in events]).update(handed_at=timezone.now())
    return len(events)


HAND_OVER_AFTER = timedelta(minutes=5)


def events_resend_stale(*, now: datetime | None = None) -> int:
    """Events committed more than ``HAND_OVER_AFTER`` ago and still not handed over (the
    broker was down, or lost the task): send them again. Returns how many."""
    now = now or timezone.now()
    ids = list(
        Event.objects.filter(handed_at__isnull=True, occurred_at__lt=now - HAND_OVER_AFTER)
        .order_by("occurred_at", "pk")
        .values_list("pk", flat=True)[:5000]
    )
    if ids:
        from .tasks import events_deliver

        events_deliver.delay(ids)
    return len(ids)


def events_prune(*, now: datetime, dry_run: bool = False) -> int:
    """Handed-over events older than ``EVENT_RETENTION_DAYS`` go, with what was logged of
    their deliveries."""
    cutoff = now - timedelta(days=settings.EVENT_RETENTION_DAYS)
    old = Event.objects.filter(occurred_at__lt=cutoff, handed_at__isnull=False)
    return delete_in_batches(old, dry_run=dry_run)
