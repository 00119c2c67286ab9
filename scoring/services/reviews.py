"""QBRs and joint business plans (RULEBOOK §10): every write, one function per use case.

A QBR is scheduled for each active partner whose tier has a review cadence, once per
quarter (``qbr_schedule_quarter``, on beat after the quarter close; idempotent), or one
at a time by a manager (``qbr_schedule``). Preparing it fills the seven sections from
live data, set-wise; a manager refreshes them until the QBR is held, shares it with the
partner, records what was agreed as action items, and marks it held or cancels it.
"""

import hashlib
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_noop
from simple_history.utils import bulk_create_with_history

from enablement.models import AutoEvent
from enablement.services import onboarding_event
from partners.models import NoticeKind, Partner, PartnerStatus, PartnerUser, ReviewCadence, User
from partners.queries import business_calendar
from partners.services import notice_send
from prm.money import round_money
from prm.quarters import Quarter
from prm.roles import VENDOR_ROLES, role_of

from .. import qbr_rules
from ..models import JointBusinessPlan, Qbr, QbrActionItem, QbrStatus
from ..queries import qbr_facts

BATCH_SIZE = 500


class QbrError(Exception):
    """A refusal in words a manager understands."""

    def __init__(self, message: str, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.code = code


def _lock_quarter(label: str) -> None:
    """Serialise scheduling of one quarter (a transaction-level advisory lock on
    PostgreSQL), so that two runs at once never race to create the same QBRs."""
    if connection.vendor != "postgresql":
        return
    key = int.from_bytes(hashlib.sha256(f"qbr:{label}".encode()).digest()[:8], "big") >> 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _quarter(label: str) -> Quarter:
    try:
        return Quarter.parse(label)
    except ValueError as exc:
        raise ValidationError({"quarter": str(exc)}) from exc


def check_meeting_day(quarter: Quarter, day: date) -> None:
    """``ValidationError`` unless ``day`` lies in the QBR's quarter (forms call it too)."""
    if not quarter.start <= day <= quarter.end:
        raise ValidationError(
            {
                "scheduled_for": f"The QBR of {quarter.label} is held in that quarter, "
                f"between {quarter.start:%d %b %Y} and {quarter.end:%d %b %Y}."
            }
        )


# ---------------------------------------------------------------- scheduling


def qbr_schedule_quarter(
    *, quarter: str | None = None, today: date | None = None, by: User | None = None
) -> dict:
    """Schedule the QBRs of ``quarter`` (default: the current one) for every active
    partner whose tier's review cadence asks for one that quarter, and prepare every
    scheduled QBR of the quarter that has not been prepared yet.

    Idempotent and safe to run twice at once: a QBR is unique per (partner, quarter) and
    the scheduling of one quarter holds a lock. Each channel manager gets at most one
    meeting a business day, from a week after ``today`` (or the quarter's start) onwards.
    """
    today = today or timezone.localdate()
    parsed = _quarter(quarter) if quarter else Quarter.containing(today)
    with transaction.atomic():
        _lock_quarter(parsed.label)
        partners = [
            partner
            for partner in Partner.objects.filter(status=PartnerStatus.ACTIVE)
            .exclude(tier__review_cadence=ReviewCadence.NONE)
            .exclude(qbrs__quarter=parsed.label)
            .select_related("tier", "program")
            .order_by("channel_manager_id", "name", "pk")
            if qbr_rules.due_in_quarter(partner.tier.review_cadence, parsed.number)
        ]
        days = _meeting_days(partners, parsed, today)
        by_program: dict[int, dict] = defaultdict(lambda: defaultdict(list))
        for partner in partners:
            by_program[partner.program_id][partner.channel_manager_id].append(partner.pk)
        when: dict[int, date] = {}
        for program_id, by_manager in by_program.items():
            when |= qbr_rules.spread_meetings(by_manager, days[program_id])
        created = bulk_create_with_history(
            [
                Qbr(
                    partner=partner,
                    quarter=parsed.label,
                    cadence=partner.tier.review_cadence,
                    scheduled_for=when[partner.pk],
                    created_by=by,
                )
                for partner in partners
            ],
            Qbr,
            batch_size=BATCH_SIZE,
            default_user=by,
            default_change_reason="Scheduled for the quarter",
        )
    prepared = _prepare_unprepared(parsed, today=today)
    return {"quarter": parsed.label, "scheduled": len(created), "prepared": prepared}


def _meeting_days(partners: list[Partner], quarter: Quarter, today: date) -> dict[int, list]:
    """Each program's meeting days in the quarter (its business calendar)."""
    first = max(quarter.start, today)
    days = {}
    for partner in partners:
        if partner.program_id not in days:
            calendar = business_calendar(partner.program)
            days[partner.program_id] = qbr_rules.meeting_days(
                first, quarter.end, calendar.is_business_day
            )
    return days


def _prepare_unprepared(quarter: Quarter, *, today: date) -> int:
    """Prepare, in batches, the quarter's scheduled QBRs that have no sections yet."""
    done = 0
    while True:
        with transaction.atomic():
            batch = list(
                Qbr.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(quarter=quarter.label, status=QbrStatus.SCHEDULED, prepared_at=None)
                .select_related("partner__tier", "partner__program")
                .order_by("pk")[:BATCH_SIZE]
            )
            if not batch:
                return done
            _fill(batch, quarter, as_of=today)
            Qbr.objects.bulk_update(batch, ["sections", "prepared_at"])
            done += len(batch)


def _fill(qbrs: list[Qbr], quarter: Quarter, *, as_of: date) -> None:
    now = timezone.now()
    # The sections are stored (and served by the API) in the site's language, whatever the
    # language of the request that prepared them; the pages translate their labels on display.
    with translation.override(settings.LANGUAGE_CODE):
        facts = qbr_facts([q.partner for q in qbrs], quarter, as_of=as_of, now=now)
        for qbr in qbrs:
            qbr.sections = qbr_rules.sections(facts[qbr.partner_id])
            qbr.prepared_at = now


@transaction.atomic
def qbr_schedule(
    *,
    partner: Partner,
    quarter: str,
    scheduled_for: date,
    by: User | None,
    today: date | None = None,
) -> Qbr:
    """One partner's QBR, scheduled by a manager (e.g. a partner that reached silver
    mid-quarter), prepared at once."""
    parsed = _quarter(quarter)
    _lock_quarter(parsed.label)
    if Qbr.objects.filter(partner=partner, quarter=parsed.label).exists():
        raise QbrError(f"{partner} already has a QBR for {parsed.label}.", code="duplicate")
    check_meeting_day(parsed, scheduled_for)
    partner = Partner.objects.select_related("tier", "program").get(pk=partner.pk)
    qbr = Qbr(
        partner=partner,
        quarter=parsed.label,
        cadence=partner.tier.review_cadence,
        scheduled_for=scheduled_for,
        created_by=by,
    )
    qbr._history_user = by
    _fill([qbr], parsed, as_of=today or timezone.localdate())
    qbr.save()
    return qbr


# ---------------------------------------------------------------- one QBR


def _locked(qbr: Qbr) -> Qbr:
    return (
        Qbr.objects.select_for_update(of=("self",))
        .select_related("partner__tier", "partner__program", "partner__channel_manager")
        .get(pk=qbr.pk)
    )


def _save(qbr: Qbr, by: User | None, reason: str) -> Qbr:
    qbr._history_user = by
    qbr._change_reason = reason
    qbr.save()
    return qbr


def _refuse_unless_scheduled(qbr: Qbr, doing: str) -> None:
    if qbr.status == QbrStatus.HELD:
        raise QbrError(
            f"This QBR was held on {qbr.held_on:%d %b %Y}; it can no longer be {doing}.",
            code="held",
        )
    if qbr.status == QbrStatus.CANCELLED:
        raise QbrError(f"This QBR was cancelled; it can no longer be {doing}.", code="cancelled")


@transaction.atomic
def qbr_prepare(*, qbr: Qbr, by: User | None = None, as_of: date | None = None) -> Qbr:
    """Fill (or refresh) the seven sections from today's data. Only until it is held:
    a held QBR keeps the sections it was held with."""
    qbr = _locked(qbr)
    _refuse_unless_scheduled(qbr, "refreshed")
    _fill([qbr], Quarter.parse(qbr.quarter), as_of=as_of or timezone.localdate())
    return _save(qbr, by, "Sections refreshed")


@transaction.atomic
def qbr_refresh(*, qbrs, by: User | None = None, as_of: date | None = None) -> dict:
    """Refresh the sections of many QBRs at once (set-wise); held and cancelled ones keep
    theirs and are counted as skipped."""
    locked = list(
        Qbr.objects.select_for_update(of=("self",))
        .filter(pk__in=[qbr.pk for qbr in qbrs])
        .select_related("partner__tier", "partner__program")
        .order_by("pk")
    )
    todo = [qbr for qbr in locked if qbr.status == QbrStatus.SCHEDULED]
    by_quarter = defaultdict(list)
    for qbr in todo:
        by_quarter[qbr.quarter].append(qbr)
    for label, group in by_quarter.items():
        _fill(group, Quarter.parse(label), as_of=as_of or timezone.localdate())
    Qbr.objects.bulk_update(todo, ["sections", "prepared_at"])
    Qbr.history.bulk_history_create(
        todo, default_user=by, default_change_reason="Sections refreshed"
    )
    return {"refreshed": len(todo), "skipped": len(locked) - len(todo)}


@transaction.atomic
def qbr_update(
    *, qbr: Qbr, by: User | None, notes: str | None = None, scheduled_for: date | None = None
) -> Qbr:
    """Edit the meeting notes (any time) or move the meeting (while it is scheduled)."""
    qbr = _locked(qbr)
    if scheduled_for is not None and scheduled_for != qbr.scheduled_for:
        _refuse_unless_scheduled(qbr, "moved")
        check_meeting_day(Quarter.parse(qbr.quarter), scheduled_for)
        qbr.scheduled_for = scheduled_for
    if notes is not None:
        qbr.notes = notes.strip()
    return _save(qbr, by, "Edited")


@transaction.atomic
def qbr_hold(*, qbr: Qbr, by: User | None, held_on: date | None = None) -> Qbr:
    """Record that the meeting took place; its sections are kept as they are. The
    partner's first completes its "QBR cadence established" onboarding step."""
    today = timezone.localdate()
    held_on = held_on or today
    qbr = _locked(qbr)
    _refuse_unless_scheduled(qbr, "marked held")
    quarter = Quarter.parse(qbr.quarter)
    if held_on > today:
        raise ValidationError({"held_on": "A QBR is marked held on the day it took place."})
    if held_on < quarter.start:
        raise ValidationError(
            {
                "held_on": f"A QBR of {quarter.label} reviews {quarter.previous().label}; "
                f"it is held from {quarter.start:%d %b %Y}."
            }
        )
    qbr.status, qbr.held_on, qbr.held_by = QbrStatus.HELD, held_on, by
    _save(qbr, by, "Held")
    onboarding_event(
        partner=qbr.partner,
        event=AutoEvent.FIRST_QBR,
        on=held_on,
        note=f"QBR {qbr.quarter} held on {held_on:%d %b %Y}",
    )
    return qbr


@transaction.atomic
def qbr_cancel(*, qbr: Qbr, by: User | None, reason: str) -> Qbr:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the QBR is cancelled."})
    qbr = _locked(qbr)
    _refuse_unless_scheduled(qbr, "cancelled")
    qbr.status, qbr.cancel_reason = QbrStatus.CANCELLED, reason
    return _save(qbr, by, "Cancelled")


@transaction.atomic
def qbr_share(*, qbr: Qbr, by: User | None, shared: bool = True) -> Qbr:
    """Show the QBR (sections, notes, action items) to the partner's people in the portal,
    or stop showing it. Sharing tells them with a portal notice and an e-mail."""
    qbr = _locked(qbr)
    if shared and qbr.status == QbrStatus.CANCELLED:
        raise QbrError("A cancelled QBR is not shared.", code="cancelled")
    if qbr.shared_with_partner == shared:
        return qbr
    qbr.shared_with_partner = shared
    qbr.shared_at = timezone.now() if shared else None
    _save(qbr, by, "Shared with the partner" if shared else "No longer shared")
    if shared:
        if qbr.status == QbrStatus.HELD:
            message = gettext_noop(
                "Your channel manager shared the notes of your %(quarter)s business review."
            )
        else:
            message = gettext_noop(
                "Your channel manager shared the agenda of your %(quarter)s business review."
            )
        notice_send(
            partner=qbr.partner,
            kind=NoticeKind.REVIEWS,
            message=message,
            params={"quarter": str(qbr.quarter)},
            link=reverse("portal-qbr", args=[qbr.pk]),
            email_subject=gettext_noop("Your %(quarter)s business review"),
        )
    return qbr


# ---------------------------------------------------------------- action items


def action_item_clean(
    qbr: Qbr, *, text: str, owner: User | None, owner_name: str, due_on: date | None
) -> dict:
    """The action item's fields, tidied; ``ValidationError`` naming each field at fault."""
    errors = {}
    text = (text or "").strip()
    owner_name = (owner_name or "").strip()
    if not text:
        errors["text"] = "Say what is to be done."
    elif len(text) > 300:
        errors["text"] = "Keep an action item under 300 characters."
    if owner is not None and owner_name:
        errors["owner_name"] = "Name an owner with a login or without one, not both."
    if owner is not None and not _may_own(owner, qbr.partner_id):
        errors["owner"] = "The owner works for the vendor or for this partner."
    if due_on is not None and due_on < qbr.scheduled_for and qbr.held_on is None:
        errors["due_on"] = (
            f"The due date is on or after the meeting ({qbr.scheduled_for:%d %b %Y})."
        )
    if due_on is not None and qbr.held_on is not None and due_on < qbr.held_on:
        errors["due_on"] = f"The due date is on or after the meeting ({qbr.held_on:%d %b %Y})."
    if errors:
        raise ValidationError(errors)
    return {"text": text, "owner": owner, "owner_name": owner_name, "due_on": due_on}


def _may_own(user: User, partner_id: int) -> bool:
    if role_of(user) in VENDOR_ROLES:
        return True
    return PartnerUser.objects.filter(user=user, partner_id=partner_id).exists()


@transaction.atomic
def qbr_action_item_add(
    *,
    qbr: Qbr,
    by: User | None,
    text: str,
    owner: User | None = None,
    owner_name: str = "",
    due_on: date | None = None,
) -> QbrActionItem:
    qbr = _locked(qbr)
    if qbr.status == QbrStatus.CANCELLED:
        raise QbrError("This QBR was cancelled; it takes no action items.", code="cancelled")
    item = QbrActionItem(
        qbr=qbr,
        created_by=by,
        **action_item_clean(qbr, text=text, owner=owner, owner_name=owner_name, due_on=due_on),
    )
    item._history_user = by
    item.save()
    return item


@transaction.atomic
def qbr_action_item_update(
    *,
    item: QbrActionItem,
    by: User | None,
    text: str,
    owner: User | None = None,
    owner_name: str = "",
    due_on: date | None = None,
) -> QbrActionItem:
    item = QbrActionItem.objects.select_for_update().select_related("qbr").get(pk=item.pk)
    cleaned = action_item_clean(
        item.qbr, text=text, owner=owner, owner_name=owner_name, due_on=due_on
    )
    for field, value in cleaned.items():
        setattr(item, field, value)
    item._history_user = by
    item.save()
    return item


@transaction.atomic
def qbr_action_item_complete(
    *, item: QbrActionItem, by: User | None, done: bool = True, at: datetime | None = None
) -> QbrActionItem:
    """Tick an action item done (at ``at``, default now), or open it again."""
    item = QbrActionItem.objects.select_for_update().get(pk=item.pk)
    if done == (item.done_at is not None):
        return item
    item.done_at = (at or timezone.now()) if done else None
    item._history_user = by
    item._change_reason = "Done" if done else "Reopened"
    item.save()
    return item


# ---------------------------------------------------------------- joint business plans


@transaction.atomic
def jbp_save(
    *,
    partner: Partner,
    fiscal_year: int,
    revenue_goal: Decimal | str,
    by: User | None,
    target_accounts: str = "",
    planned_activities: str = "",
    notes: str = "",
) -> JointBusinessPlan:
    """Create or update the partner's plan for a fiscal year (one per partner and year)."""
    errors = {}
    try:
        goal = round_money(revenue_goal)
    except (InvalidOperation, TypeError, ValueError):
        errors["revenue_goal"] = "Give the revenue goal as an amount, e.g. 250000."
    else:
        if not goal.is_finite() or goal < 0:
            errors["revenue_goal"] = "The revenue goal is zero or more."
    if not isinstance(fiscal_year, int) or not 2000 <= fiscal_year <= 2100:
        errors["fiscal_year"] = "Give the fiscal year as a year, e.g. 2027."
    if errors:
        raise ValidationError(errors)
    plan = (
        JointBusinessPlan.objects.select_for_update()
        .filter(partner=partner, fiscal_year=fiscal_year)
        .first()
    ) or JointBusinessPlan(partner=partner, fiscal_year=fiscal_year)
    plan.revenue_goal = goal
    plan.target_accounts = _tidy_lines(target_accounts)
    plan.planned_activities = _tidy_lines(planned_activities)
    plan.notes = (notes or "").strip()
    plan.updated_by = by
    plan._history_user = by
    plan.save()
    return plan


def _tidy_lines(text: str) -> str:
    return "\n".join(line.strip() for line in (text or "").splitlines() if line.strip())
