"""Incentive claims (RULEBOOK §5): the partner claims accrued SPIFFs and bonuses,
a manager approves or rejects, the partner may dispute a rejection and the channel chief
decides; claims past their verification SLA are flagged, and what was never claimed or
disputed in time is voided.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, gettext_noop

from integrations.models import EventKind
from integrations.services import event_publish
from partners.models import NoticeKind, Partner, User
from partners.queries import business_calendar
from partners.services import notice_send
from prm.audit import audited
from prm.deferred_text import amount_value
from prm.mail import mail_on_commit
from prm.roles import Role

from .. import rules
from ..models import ClaimStatus, EntryStatus, IncentiveClaim, LedgerEntry
from .common import CLAIMABLE_KINDS, IncentiveError, _payment_due, _wrong_state


@audited
@transaction.atomic
def claim_submit(
    *,
    partner: Partner,
    entry_ids: Iterable[int],
    by: User,
    note: str = "",
    today: date | None = None,
) -> IncentiveClaim:
    """The partner claims accrued SPIFFs and bonuses, each within its 30-day window.

    All or nothing: one late or ineligible entry refuses the whole claim, saying why.
    """
    today = today or timezone.localdate()
    wanted = sorted({int(pk) for pk in entry_ids})
    if not wanted:
        raise ValidationError({"entries": gettext("Choose at least one SPIFF or bonus to claim.")})
    entries = list(
        LedgerEntry.objects.select_for_update()
        .filter(partner=partner, pk__in=wanted)
        .order_by("pk")
    )
    found = {entry.pk for entry in entries}
    missing = [pk for pk in wanted if pk not in found]
    if missing:
        raise ValidationError({"entries": f"No such ledger entry: {missing[0]}."})
    for entry in entries:
        if entry.kind not in CLAIMABLE_KINDS:
            raise ValidationError(
                {"entries": f"{entry.get_kind_display()} entries are paid without a claim."}
            )
        if entry.claim_id is not None:
            raise IncentiveError(
                gettext("“%(what)s” is already part of claim %(number)s.")
                % {"what": entry.shown_description, "number": entry.claim_id},
                code="already_claimed",
            )
        if entry.status != EntryStatus.ACCRUED:
            raise IncentiveError(
                gettext("“%(what)s” is %(status)s; there is nothing to claim.")
                % {"what": entry.shown_description, "status": entry.get_status_display().lower()},
                code="wrong_state",
            )
        if rules.claim_is_late(today, entry.claim_by):
            raise IncentiveError(
                gettext("The claim for “%(what)s” was due by %(day)s (%(iso)s).")
                % {
                    "what": entry.shown_description,
                    "day": date_format(entry.claim_by),
                    "iso": entry.claim_by.isoformat(),
                },
                code="claim_late",
                status=400,
            )
    program = partner.program
    claim = IncentiveClaim.objects.create(
        partner=partner,
        amount=sum((entry.amount for entry in entries), Decimal(0)),
        note=(note or "").strip(),
        submitted_by=by,
        verify_by=business_calendar(program).add(today, program.claim_verify_business_days),
    )
    LedgerEntry.objects.filter(pk__in=found).update(claim=claim)
    return claim


def _locked_claim(claim: IncentiveClaim) -> IncentiveClaim:
    return (
        IncentiveClaim.objects.select_for_update()
        .select_related("partner__program")
        .get(pk=claim.pk)
    )


def _approve_claim_entries(claim: IncentiveClaim, by: User, reason: str) -> None:
    now = timezone.now()
    due_on = _payment_due(claim.partner.program, timezone.localdate())
    for entry in LedgerEntry.objects.select_for_update().filter(
        claim=claim, status=EntryStatus.ACCRUED
    ):
        entry.approve(by=by, at=now, due_on=due_on)
        entry._change_reason = reason
        entry.save()


@audited
@transaction.atomic
def claim_approve(*, claim: IncentiveClaim, by: User) -> IncentiveClaim:
    """Verified: the claim's entries become owed, payable within 15 business days."""
    claim = _locked_claim(claim)
    if claim.status != ClaimStatus.SUBMITTED:
        raise _wrong_state(claim, "approved")
    claim.approve(by=by, at=timezone.now())
    claim._change_reason = "Approved"
    claim.save()
    _approve_claim_entries(claim, by, "Claim approved")
    _publish_approved(claim)
    notice_send(
        partner=claim.partner,
        level="success",
        kind=NoticeKind.EARNINGS,
        message=gettext_noop("Your claim %(number)s for %(amount)s is approved."),
        params={
            "number": claim.pk,
            "amount": amount_value(claim.amount, claim.partner.program.currency),
        },
        link=f"/portal/claims/{claim.pk}/",
        email_subject=gettext_noop("Your incentive claim is approved"),
    )
    return claim


def _publish_approved(claim: IncentiveClaim) -> None:
    event_publish(
        partner_id=claim.partner_id,
        kind=EventKind.CLAIM_APPROVED,
        data={
            "claim_id": claim.pk,
            "partner_id": claim.partner_id,
            "amount": f"{claim.amount:.2f}",
            "entry_ids": list(claim.entries.order_by("pk").values_list("pk", flat=True)),
            "decided_at": claim.decided_at,
        },
    )


@audited
@transaction.atomic
def claim_reject(*, claim: IncentiveClaim, by: User, reason: str) -> IncentiveClaim:
    if not (reason or "").strip():
        raise ValidationError({"reason": "Say why the claim is rejected."})
    claim = _locked_claim(claim)
    if claim.status != ClaimStatus.SUBMITTED:
        raise _wrong_state(claim, "rejected")
    claim.reject(by=by, at=timezone.now(), reason=reason.strip())
    claim._change_reason = "Rejected"
    claim.save()
    notice_send(
        partner=claim.partner,
        level="warning",
        kind=NoticeKind.EARNINGS,
        message=gettext_noop("Your claim %(number)s was rejected: %(reason)s. You may dispute it."),
        params={"number": claim.pk, "reason": reason.strip()[:300]},
        link=f"/portal/claims/{claim.pk}/",
        email_subject=gettext_noop("Your incentive claim was rejected"),
    )
    return claim


def dispute_deadline(claim: IncentiveClaim) -> date | None:
    if claim.decided_at is None:
        return None
    return rules.claim_deadline(
        timezone.localdate(claim.decided_at), claim.partner.program.claim_window_days
    )


@audited
@transaction.atomic
def claim_dispute(
    *, claim: IncentiveClaim, by: User, reason: str, today: date | None = None
) -> IncentiveClaim:
    """The partner disputes a rejection; it goes to the channel chief."""
    if not (reason or "").strip():
        raise ValidationError({"reason": gettext("Say why you dispute the rejection.")})
    claim = _locked_claim(claim)
    if claim.status != ClaimStatus.REJECTED:
        raise _wrong_state(claim, "disputed")
    deadline = dispute_deadline(claim)
    if deadline and rules.claim_is_late(today or timezone.localdate(), deadline):
        raise IncentiveError(
            gettext("A dispute was due by %(day)s (%(iso)s).")
            % {"day": date_format(deadline), "iso": deadline.isoformat()},
            code="dispute_late",
            status=400,
        )
    claim.dispute(by=by, at=timezone.now(), reason=reason.strip())
    claim._change_reason = gettext_noop("Disputed")
    claim.save()
    chiefs = list(
        User.objects.filter(role=Role.CHANNEL_CHIEF, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if chiefs:
        subject = f"Disputed incentive claim {claim.pk} from {claim.partner}"
        body = (
            f"{claim.partner} disputes the rejection of claim {claim.pk} "
            f"({claim.amount:,.2f}).\n\nRejected because: {claim.rejection_reason}\n"
            f"Partner's reason: {claim.dispute_reason}\n"
        )
        mail_on_commit(subject, body, chiefs)
    return claim


@audited
@transaction.atomic
def claim_resolve_dispute(
    *, claim: IncentiveClaim, by: User, overturn: bool, note: str
) -> IncentiveClaim:
    """The channel chief decides a dispute: overturn (the claim is approved) or uphold."""
    if not (note or "").strip():
        raise ValidationError({"note": "Record the decision's reason."})
    claim = _locked_claim(claim)
    if claim.status != ClaimStatus.DISPUTED:
        raise _wrong_state(claim, "decided")
    now = timezone.now()
    if overturn:
        claim.overturn(by=by, at=now, note=note.strip())
        claim._change_reason = gettext_noop("Dispute: rejection overturned")
        claim.save()
        _approve_claim_entries(claim, by, "Dispute won")
        _publish_approved(claim)
        message = gettext_noop("Your dispute of claim %(number)s succeeded; the claim is approved.")
    else:
        claim.uphold(by=by, at=now, note=note.strip())
        claim._change_reason = gettext_noop("Dispute: rejection upheld")
        claim.save()
        _void_entries(
            LedgerEntry.objects.filter(claim=claim, status=EntryStatus.ACCRUED),
            f"Claim {claim.pk} rejected; dispute upheld",
        )
        message = gettext_noop("The rejection of claim %(number)s was upheld: %(reason)s")
    notice_send(
        partner=claim.partner,
        level="info",
        kind=NoticeKind.EARNINGS,
        message=message,
        params={"number": claim.pk, "reason": note.strip()[:300]},
        link=f"/portal/claims/{claim.pk}/",
        email_subject=gettext_noop("Your incentive dispute was decided"),
    )
    return claim


def _void_entries(queryset, reason: str) -> int:
    now = timezone.now()
    count = 0
    for entry in queryset.select_for_update(skip_locked=True):
        entry.void(at=now, reason=reason)
        entry._change_reason = reason
        entry.save()
        count += 1
    return count


def claims_flag_overdue(*, today: date | None = None) -> int:
    """Flag claims not verified within 5 business days and tell their channel managers.

    Each claim is flagged once; safe to run twice at once (rows claimed with SKIP LOCKED).
    """
    today = today or timezone.localdate()
    flagged: dict[str, list[IncentiveClaim]] = defaultdict(list)
    with transaction.atomic():
        claims = list(
            IncentiveClaim.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("partner__channel_manager")
            .filter(
                status=ClaimStatus.SUBMITTED, verify_by__lt=today, overdue_flagged_at__isnull=True
            )
        )
        now = timezone.now()
        for claim in claims:
            claim.overdue_flagged_at = now
            manager = claim.partner.channel_manager
            if manager is not None and manager.email:
                flagged[manager.email].append(claim)
        IncentiveClaim.objects.filter(pk__in=[c.pk for c in claims]).update(overdue_flagged_at=now)
        for email, items in flagged.items():
            lines = "\n".join(
                f"- claim {c.pk}, {c.partner}: {c.amount:,.2f}, due {c.verify_by}" for c in items
            )
            subject = f"{len(items)} incentive claim(s) past their verification SLA"
            mail_on_commit(subject, f"These claims were due for verification:\n\n{lines}\n", email)
    return len(claims)


def ledger_void_lapsed(*, today: date | None = None) -> int:
    """Void what can no longer be paid: SPIFFs and bonuses never claimed in their window,
    and entries of rejected claims not disputed in time."""
    today = today or timezone.localdate()
    with transaction.atomic():
        count = _void_entries(
            LedgerEntry.objects.filter(
                status=EntryStatus.ACCRUED,
                kind__in=CLAIMABLE_KINDS,
                claim__isnull=True,
                claim_by__lt=today,
            ),
            "Not claimed in time",
        )
    rejected = IncentiveClaim.objects.select_related("partner__program").filter(
        status=ClaimStatus.REJECTED
    )
    for claim in rejected:
        deadline = dispute_deadline(claim)
        if deadline and deadline < today:
            with transaction.atomic():
                count += _void_entries(
                    LedgerEntry.objects.filter(claim=claim, status=EntryStatus.ACCRUED),
                    f"Claim {claim.pk} rejected and not disputed",
                )
    return count
