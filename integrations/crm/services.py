"""The CRM sync's writes: what events ask to push, a run (pull, then push), and the error
queue's retry and skip.

Every object the sync touches has a ``SyncRecord``. Outbound, an event (or a full push)
merges its facts into the record and marks it pending, in the event's hand-over
transaction; a run upserts the pending ones in batches by the PRM's key and records
each answer. Inbound, a run reads what changed since the watermark and applies each
record through ``partners``' services, one savepoint each. Whatever fails is an
``error`` row with the CRM's (or the rule's) message: tried again by later runs when it
may pass by itself (a limit, a 5xx), else kept for a person to retry or skip.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from partners.models import Account, Lead, Partner
from partners.queries import account_matching
from partners.services import account_create, account_update, lead_create, lead_update
from prm.queue import send_task

from ..models import (
    CrmConnection,
    Event,
    EventKind,
    FieldMapping,
    SyncObject,
    SyncRecord,
    SyncState,
    SyncWatermark,
)
from . import connector_for
from .base import (
    Connector,
    CrmError,
    NotConfigured,
    Outgoing,
    PushResult,
    RateLimited,
    RemoteRecord,
)
from .mapping import (
    DEFAULT_MAPPINGS,
    deal_facts,
    inbound_values,
    outbound_fields,
    payload_hash,
    record_key,
)

logger = logging.getLogger(__name__)

DEAL_EVENTS = {
    EventKind.DEAL_REGISTERED,
    EventKind.DEAL_APPROVED,
    EventKind.DEAL_REJECTED,
    EventKind.DEAL_WON,
    EventKind.DEAL_EXPIRED,
}
# A run claims its connection for at most this long (a crashed run's claim lapses).
RUN_CLAIM = timedelta(minutes=15)
# Records pushed or applied again in one run at most, per object type.
RUN_LIMIT = 2000


def retry_delay(attempts: int) -> timedelta:
    """5 min, 10, 20, … up to a day between automatic attempts."""
    return min(timedelta(minutes=5) * 2 ** max(0, attempts - 1), timedelta(days=1))


def mappings_for(provider: str, object_type: str) -> list[tuple[str, str]]:
    """``(crm_field, local_field)`` of the enabled mappings; the defaults if there are none
    at all (a database older than the mapping rows)."""
    rows = list(
        FieldMapping.objects.filter(provider=provider, object_type=object_type).values_list(
            "crm_field", "local_field", "enabled"
        )
    )
    if not rows:
        return list(DEFAULT_MAPPINGS[provider][object_type].items())
    return [(crm, local) for crm, local, enabled in rows if enabled]


# ---------------------------------------------------------------- outbound: what to push


def _partner_facts(partner: Partner) -> dict:
    return {
        "partner_id": partner.pk,
        "name": partner.name,
        "domain": partner.domain,
        "tier": partner.tier.name,
        "status": partner.status,
        "region": partner.region,
    }


def _mark_pending(
    connection: CrmConnection, object_type: str, local_id: int, partner_id: int, label: str
) -> SyncRecord:
    record, _ = SyncRecord.objects.select_for_update().get_or_create(
        connection=connection,
        object_type=object_type,
        local_id=local_id,
        defaults={"partner_id": partner_id},
    )
    record.label = label[:200]
    record.next_attempt_at = None
    record.changed_at = timezone.now()
    if record.state != SyncState.ERROR:  # an error row stays one until it syncs
        record.state = SyncState.PENDING
    return record


def _partner_pending(connection: CrmConnection, partner: Partner) -> None:
    record = _mark_pending(connection, SyncObject.PARTNER, partner.pk, partner.pk, partner.name)
    record.facts = _partner_facts(partner)
    record.save()


def _deal_pending(connection: CrmConnection, event: Event, partner: Partner) -> None:
    data = event.data
    record = _mark_pending(
        connection,
        SyncObject.DEAL,
        int(data["deal_id"]),
        event.partner_id,
        f"{data.get('customer_name') or ''} ({partner.name})",
    )
    facts = dict(record.facts)
    seen = facts.get("event_at")
    occurred = event.occurred_at.isoformat()
    if seen and occurred < seen:
        # An older event delivered late: it adds what is missing, never overwrites.
        facts = {**data, **facts}
    else:
        facts.update(data)
        facts["event_at"] = occurred
    facts["partner_name"] = partner.name
    record.facts = facts
    record.save()


def outbound_connections() -> QuerySet[CrmConnection]:
    return CrmConnection.objects.filter(enabled=True, outbound=True)


def crm_events_record(events: list[Event]) -> None:
    """The ``crm`` deliverer: each registration event, and each tier move, marks its
    object to push, in the transaction that hands the events over; a push follows the
    commit. A registration's partner is pushed first if the CRM has not got it yet (the
    opportunity names its partner account)."""
    connections = list(outbound_connections())
    wanted = [e for e in events if e.kind in DEAL_EVENTS and e.data.get("deal_id")]
    moved = {e.partner_id for e in events if e.kind == EventKind.TIER_CHANGED}
    if not connections or not (wanted or moved):
        return
    partners = Partner.objects.select_related("tier").in_bulk(
        {e.partner_id for e in wanted} | moved
    )
    for connection in connections:
        known = set(
            SyncRecord.objects.filter(
                connection=connection, object_type=SyncObject.PARTNER, local_id__in=partners
            ).values_list("local_id", flat=True)
        )
        for partner_id in moved | ({e.partner_id for e in wanted} - known):
            _partner_pending(connection, partners[partner_id])
        for event in wanted:
            _deal_pending(connection, event, partners[event.partner_id])
        _push_on_commit(connection)


def _push_on_commit(connection: CrmConnection) -> None:
    def push() -> None:
        from ..tasks import crm_push

        send_task(crm_push, connection.pk)  # broker down: the beat's next run pushes them

    transaction.on_commit(push, robust=True)


@transaction.atomic
def crm_full_push(*, connection: CrmConnection) -> int:
    """Every partner from ``partners``' data, and every registration from its latest
    events still kept (``EVENT_RETENTION_DAYS``), marked to push (unchanged ones are
    found unchanged by their hash and not sent). Returns how many objects."""
    count = 0
    for partner in Partner.objects.select_related("tier").order_by("pk"):
        _partner_pending(connection, partner)
        count += 1
    partners = {}
    deal_events = Event.objects.filter(kind__in=DEAL_EVENTS).order_by("occurred_at", "pk")
    for event in deal_events.iterator(chunk_size=500):
        if not event.data.get("deal_id"):
            continue
        partner = partners.get(event.partner_id)
        if partner is None:
            partner = partners[event.partner_id] = Partner.objects.get(pk=event.partner_id)
        _deal_pending(connection, event, partner)
        count += 1
    _push_on_commit(connection)
    return count


# ---------------------------------------------------------------- a run


@dataclass
class RunSummary:
    pulled: int = 0
    pushed: int = 0
    failed: int = 0
    unchanged: int = 0
    stopped: str = ""
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = (
            f"pulled {self.pulled}, pushed {self.pushed}, unchanged {self.unchanged}, "
            f"failed {self.failed}"
        )
        return f"{text}; stopped: {self.stopped}" if self.stopped else text


def _claim(connection: CrmConnection, now: datetime) -> bool:
    """Claim the connection for a run by a conditional update: one run at a time."""
    return bool(
        CrmConnection.objects.filter(pk=connection.pk)
        .filter(Q(running_since__isnull=True) | Q(running_since__lt=now - RUN_CLAIM))
        .update(running_since=now)
    )


def crm_sync(
    *,
    connection: CrmConnection,
    connector: Connector | None = None,
    pull: bool = True,
    push: bool = True,
    now: datetime | None = None,
) -> RunSummary:
    """One run: pull accounts and leads, then push what is pending. A missing
    configuration, a refused token or a limit ends the run with the reason on the
    connection (and in the log); nothing pending is lost, the next run goes on."""
    now = now or timezone.now()
    summary = RunSummary()
    if not _claim(connection, now):
        summary.stopped = "another run of this connection is in progress"
        return summary
    try:
        connector = connector or connector_for(connection.provider)
        if pull and connection.inbound:
            for object_type in (SyncObject.ACCOUNT, SyncObject.LEAD):
                crm_pull(
                    connection=connection,
                    connector=connector,
                    object_type=object_type,
                    summary=summary,
                    now=now,
                )
        if push and connection.outbound:
            for object_type in (SyncObject.PARTNER, SyncObject.DEAL):
                crm_push(
                    connection=connection,
                    connector=connector,
                    object_type=object_type,
                    summary=summary,
                    now=now,
                )
    except NotConfigured as exc:
        summary.stopped = exc.message
    except CrmError as exc:
        summary.stopped = exc.message
        logger.error("CRM sync of %s stopped: %s", connection, exc.message)
    finally:
        CrmConnection.objects.filter(pk=connection.pk).update(
            running_since=None, last_run_at=now, last_run_summary=str(summary)[:500]
        )
    logger.info("CRM sync of %s: %s", connection, summary)
    return summary


# ---------------------------------------------------------------- inbound


def _failed(record: SyncRecord, message: str, *, retryable: bool, now: datetime) -> None:
    record.state = SyncState.ERROR
    record.error = message[:4000]
    record.attempts += 1
    record.next_attempt_at = now + retry_delay(record.attempts) if retryable else None
    record.changed_at = now
    record.save()
    logger.warning("CRM sync: %s %s failed: %s", record.object_type, record, message)


def _succeeded(record: SyncRecord, now: datetime) -> None:
    record.state = SyncState.SYNCED
    record.error = ""
    record.attempts = 0
    record.next_attempt_at = None
    record.synced_at = now
    record.changed_at = now
    record.skipped_by = None
    record.save()


def _local_modified(account: Account) -> datetime | None:
    last = account.history.order_by("-history_date").values_list("history_date", flat=True)
    return last.first()


def _apply_account(record: SyncRecord, values: dict, remote_modified: datetime) -> str:
    account = None
    if record.local_id:
        account = Account.objects.filter(pk=record.local_id).first()
        if account is not None and account.merged_into_id:
            account = account.merged_into
    if account is None and (values.get("name") or values.get("domain")):
        account = account_matching(name=values.get("name", ""), domain=values.get("domain", ""))
    if account is None:
        account = account_create(
            name=values.get("name", ""),
            domain=values.get("domain", ""),
            direct_rep=values.get("direct_rep", ""),
        )
        record.local_id = account.pk
        return ""
    record.local_id = account.pk
    changes = {k: v for k, v in values.items() if (getattr(account, k) or "") != v}
    if not changes:
        return ""
    local_modified = _local_modified(account)
    edited_here = bool(record.synced_at and local_modified and local_modified > record.synced_at)
    if edited_here and local_modified > remote_modified:
        note = (
            f"Edited on both sides: kept the PRM's ({local_modified:%Y-%m-%d %H:%M:%S} UTC), "
            f"newer than the CRM's ({remote_modified:%Y-%m-%d %H:%M:%S} UTC); "
            f"not applied: {sorted(changes)}"
        )
        logger.warning("CRM sync: account %s: %s", account.pk, note)
        return note
    account_update(account=account, **changes)
    if edited_here:
        note = (
            f"Edited on both sides: applied the CRM's ({remote_modified:%Y-%m-%d %H:%M:%S} "
            f"UTC), newer than the PRM's ({local_modified:%Y-%m-%d %H:%M:%S} UTC): "
            f"{sorted(changes)}"
        )
        logger.warning("CRM sync: account %s: %s", account.pk, note)
        return note
    return ""


def _apply_lead(record: SyncRecord, values: dict) -> str:
    lead = Lead.objects.filter(pk=record.local_id).first() if record.local_id else None
    if lead is None:
        lead = lead_create(
            company_name=values.get("company_name", ""),
            domain=values.get("domain", ""),
            source=values.get("source") or "other",
            created_at=values.get("created_at"),
            country=values.get("country", ""),
            region=values.get("region", ""),
            specialty=values.get("specialty", ""),
            language=values.get("language", ""),
        )
        record.local_id = lead.pk
        return ""
    changes = {k: v for k, v in values.items() if v not in (None, "") and getattr(lead, k) != v}
    if changes:
        lead_update(lead=lead, **changes)
    return ""


def _apply(record: SyncRecord, mappings, now: datetime) -> bool:
    """Apply a pulled record (its fields are ``record.facts``) in a savepoint."""
    remote_modified = datetime.fromisoformat(record.facts["modified_at"])
    values = inbound_values(record.object_type, record.facts["fields"], mappings)
    try:
        with transaction.atomic():
            if record.object_type == SyncObject.ACCOUNT:
                note = _apply_account(record, values, remote_modified)
            else:
                note = _apply_lead(record, values)
    except ValidationError as exc:
        _failed(record, "; ".join(exc.messages), retryable=False, now=now)
        return False
    except (IntegrityError, ValueError, TypeError) as exc:
        _failed(record, str(exc), retryable=False, now=now)
        return False
    record.pulled_modified_at = remote_modified
    record.note = note[:500]
    _succeeded(record, now)
    return True


def _pulled(
    connection: CrmConnection, object_type: str, remote: RemoteRecord, label_field: str
) -> SyncRecord | None:
    record = SyncRecord.objects.filter(
        connection=connection, object_type=object_type, external_id=remote.external_id
    ).first()
    if (
        record is not None
        and record.state == SyncState.SYNCED
        and record.pulled_modified_at
        and remote.modified_at <= record.pulled_modified_at
    ):
        return None  # already applied (the watermark's own second is read again)
    if record is None:
        record = SyncRecord(
            connection=connection, object_type=object_type, external_id=remote.external_id
        )
    record.label = str(remote.fields.get(label_field) or remote.external_id)[:200]
    record.facts = {"modified_at": remote.modified_at.isoformat(), "fields": remote.fields}
    return record


def crm_pull(
    *,
    connection: CrmConnection,
    connector: Connector,
    object_type: str,
    summary: RunSummary,
    now: datetime,
) -> None:
    """Apply again the records that failed (from what was pulled then), then read what
    changed since the watermark, page by page, moving the watermark after each page."""
    mappings = mappings_for(connection.provider, object_type)
    for record in _due(connection, object_type, now):
        summary.pulled += 1
        if not _apply(record, mappings, now):
            summary.failed += 1
    mark = SyncWatermark.objects.filter(connection=connection, object_type=object_type).first()
    label_field = next((crm for crm, local in mappings if local in ("name", "company_name")), "")
    for page in connector.changed(
        object_type,
        since=mark.modified_since if mark else None,
        fields=[crm for crm, _ in mappings],
    ):
        for remote in page:
            record = _pulled(connection, object_type, remote, label_field)
            if record is None:
                summary.unchanged += 1
                continue
            summary.pulled += 1
            if not _apply(record, mappings, now):
                summary.failed += 1
        if page:
            newest = max(r.modified_at for r in page)
            SyncWatermark.objects.update_or_create(
                connection=connection,
                object_type=object_type,
                defaults={"modified_since": newest},
            )


def _due(connection: CrmConnection, object_type: str, now: datetime):
    return SyncRecord.objects.filter(
        Q(state=SyncState.PENDING) | Q(state=SyncState.ERROR, next_attempt_at__lte=now),
        connection=connection,
        object_type=object_type,
    ).order_by("changed_at", "pk")[:RUN_LIMIT]


# ---------------------------------------------------------------- outbound


def _outgoing(record: SyncRecord, connector: Connector, mappings) -> dict:
    facts = record.facts
    if record.object_type == SyncObject.DEAL:
        facts = deal_facts(facts, stages=connector.stages)
    else:
        facts = {**facts, "partner_type": connector.partner_type}
    return outbound_fields(facts, mappings)


def _pushed(record: SyncRecord, result: PushResult, fields_hash: str, now: datetime) -> str:
    note = ""
    if result.created and record.external_id:
        note = (
            f"The CRM record {record.external_id} was gone (deleted there): "
            f"recreated as {result.external_id}."
        )
        logger.warning("CRM sync: %s %s: %s", record.object_type, record, note)
    record.external_id = result.external_id or record.external_id
    record.pushed_hash = fields_hash
    record.note = note or record.note
    _succeeded(record, now)
    return note


def crm_push(
    *,
    connection: CrmConnection,
    connector: Connector,
    object_type: str,
    summary: RunSummary,
    now: datetime,
) -> None:
    """Upsert the pending records (and the failed ones due again) in batches. A record
    whose fields hash as last pushed is not sent again. ``RateLimited`` marks the batch
    due after the wait and ends the run."""
    mappings = mappings_for(connection.provider, object_type)
    due = list(_due(connection, object_type, now))
    for start in range(0, len(due), connector.batch_size):
        batch = due[start : start + connector.batch_size]
        outgoing, hashes = [], {}
        for record in batch:
            fields = _outgoing(record, connector, mappings)
            digest = payload_hash(fields)
            if digest == record.pushed_hash and record.external_id:
                summary.unchanged += 1
                _succeeded(record, now)
                continue
            key = record_key(record.object_type, record.local_id)
            hashes[key] = (record, digest)
            outgoing.append(Outgoing(key=key, fields=fields))
        if not outgoing:
            continue
        try:
            results = connector.upsert(object_type, outgoing)
        except RateLimited as exc:
            for record, _ in hashes.values():
                _failed(record, exc.message, retryable=True, now=now)
                record.next_attempt_at = now + timedelta(seconds=exc.retry_after)
                record.save(update_fields=["next_attempt_at"])
            summary.failed += len(hashes)
            raise
        except CrmError as exc:
            for record, _ in hashes.values():
                _failed(record, exc.message, retryable=exc.retryable, now=now)
            summary.failed += len(hashes)
            if exc.status in (401, 403):
                raise
            continue
        for result in results:
            record, digest = hashes[result.key]
            if result.ok:
                try:
                    with transaction.atomic():
                        note = _pushed(record, result, digest, now)
                except IntegrityError:
                    summary.failed += 1
                    record.external_id = SyncRecord.objects.get(pk=record.pk).external_id
                    _failed(
                        record,
                        f"The CRM answered with the id {result.external_id}, which another "
                        "synced object has: were two records merged in the CRM?",
                        retryable=False,
                        now=now,
                    )
                    continue
                summary.pushed += 1
                if note:
                    summary.notes.append(note)
            else:
                summary.failed += 1
                _failed(record, result.error, retryable=result.retryable, now=now)


# ---------------------------------------------------------------- the error queue


@transaction.atomic
def sync_records_retry(*, records, by) -> int:
    """Queue failed (or skipped) records to sync on the next run, which follows at once.
    The caller scopes ``records`` to what ``by`` may act on. Returns how many."""
    rows = list(
        SyncRecord.objects.select_for_update().filter(
            pk__in=records.values("pk"), state__in=[SyncState.ERROR, SyncState.SKIPPED]
        )
    )
    for record in rows:
        record.state = SyncState.PENDING
        record.next_attempt_at = None
        record.changed_at = timezone.now()
        record.note = f"Retried by {by.get_username()}"[:500]
        record.save()
    for connection in CrmConnection.objects.filter(pk__in={r.connection_id for r in rows}):
        _sync_on_commit(connection)
    return len(rows)


@transaction.atomic
def sync_records_skip(*, records, by) -> int:
    """A person decides that failed records are not to be synced: they leave the queue,
    skipped, with who did it (a later change of the object syncs it again). The caller
    scopes ``records``. Returns how many."""
    now = timezone.now()
    return SyncRecord.objects.filter(pk__in=records.values("pk"), state=SyncState.ERROR).update(
        state=SyncState.SKIPPED,
        skipped_by=by,
        next_attempt_at=None,
        changed_at=now,
        note=f"Skipped by {by.get_username()} at {now:%Y-%m-%d %H:%M} UTC"[:500],
    )


def _sync_on_commit(connection: CrmConnection) -> None:
    def sync() -> None:
        from ..tasks import crm_sync

        send_task(crm_sync, connection.pk)  # broker down: the beat's next run syncs

    transaction.on_commit(sync, robust=True)


def crm_sync_enqueue(*, connections) -> int:
    """ "Sync now": a run of each connection, in the background."""
    count = 0
    for connection in connections:
        _sync_on_commit(connection)
        count += 1
    return count
