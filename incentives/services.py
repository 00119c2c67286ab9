"""Writes of the money engine: accruals, claims, payments and MDF (RULEBOOK §5–§7).

Callers above (deals, scoring) tell this app what happened with plain facts; it computes
what is owed with ``rules`` and records it in the ledger. Every entry carries an
idempotency key unique in the database, so a retried task, a rerun close or a double
click adds nothing. Money rows are locked (fund, then request, then claim) before they
change, so concurrent approvals can never overspend a fund or pay twice.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, gettext_noop
from simple_history.utils import bulk_update_with_history

from enablement.services import onboarding_event
from partners.models import Partner, Program, Tier, User
from partners.queries import business_calendar, rebate_brackets
from partners.services import notice_send
from prm.audit import audited
from prm.mail import mail_on_commit
from prm.quarters import Quarter
from prm.roles import Role

from . import rules
from .models import (
    ClaimStatus,
    Contribution,
    ContributionStatus,
    EntryKind,
    EntryStatus,
    IncentiveClaim,
    LedgerEntry,
    MdfClaim,
    MdfClaimStatus,
    MdfFund,
    MdfProof,
    MdfRequest,
    MdfRequestStatus,
)
from .proofs import ProofFile, check_proofs

CLAIMABLE_KINDS = (EntryKind.SPIFF, EntryKind.BONUS)
# MDF activities a deal may name as its source: approved ones and those claimed since.
MDF_SOURCING_STATUSES = (
    MdfRequestStatus.APPROVED,
    MdfRequestStatus.CLAIMED,
    MdfRequestStatus.REIMBURSED,
)


class IncentiveError(Exception):
    """A refusal with an HTTP status, a machine code and words a partner understands."""

    def __init__(self, message: str, *, code: str, status: int = 409):
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


def _wrong_state(obj, action: str) -> IncentiveError:
    return IncentiveError(
        f"This {obj._meta.verbose_name} is {obj.get_status_display().lower()}; "
        f"it cannot be {action}.",
        code="wrong_state",
    )


def deal_incentive_table(program: Program) -> rules.DealIncentiveTable:
    return rules.DealIncentiveTable(
        spiff_new_logo=program.spiff_new_logo,
        spiff_new_logo_days=program.spiff_new_logo_days,
        spiff_strategic=program.spiff_strategic,
        spiff_first_deal=program.spiff_first_deal,
        spiff_large_deal_over=program.spiff_large_deal_over,
        spiff_large_deal_rate=program.spiff_large_deal_rate,
        bonus_cross_sell_rate=program.bonus_cross_sell_rate,
        bonus_upsell_rate=program.bonus_upsell_rate,
        bonus_multi_year_rate=program.bonus_multi_year_rate,
    )


def award_table(program: Program) -> rules.AwardTable:
    return rules.AwardTable(
        partner_of_quarter=program.award_partner_of_quarter,
        top_new_logo=program.award_top_new_logo,
        highest_growth=program.award_highest_growth,
        growth_min_prior=program.award_growth_min_prior,
        training_champion_per_cert=program.award_training_champion_per_cert,
        community_mvp=program.award_community_mvp,
    )


def _quarter_of(program: Program, day: date) -> str:
    return Quarter.containing(day, start_month=program.fiscal_year_start_month).label


def _payment_due(program: Program, approved_on: date) -> date:
    return business_calendar(program).add(approved_on, program.claim_payment_business_days)


# ---------------------------------------------------------------- the ledger


def _record(entries: list[LedgerEntry], *, by: User | None, reason: str) -> list[LedgerEntry]:
    """Insert the entries whose idempotency key is new; return those inserted.

    Keys already in the ledger are skipped before the insert, and ``ON CONFLICT DO
    NOTHING`` skips any a concurrent writer inserted meanwhile, so nothing is recorded
    twice whatever runs at the same time.
    """
    if not entries:
        return []
    keys = [entry.idempotency_key for entry in entries]
    existing = set(
        LedgerEntry.objects.filter(idempotency_key__in=keys).values_list(
            "idempotency_key", flat=True
        )
    )
    fresh = [entry for entry in entries if entry.idempotency_key not in existing]
    if not fresh:
        return []
    stamp = timezone.now()
    for entry in fresh:
        entry.created_at = stamp
    LedgerEntry.objects.bulk_create(fresh, ignore_conflicts=True, batch_size=2000)
    inserted = list(
        LedgerEntry.objects.filter(
            idempotency_key__in=[entry.idempotency_key for entry in fresh], created_at=stamp
        )
    )
    LedgerEntry.history.bulk_history_create(
        inserted, default_user=by, default_change_reason=reason, default_date=stamp
    )
    return inserted


def _record_quarter(
    rows: list[tuple], *, program: Program, quarter: Quarter, due_on: date, by, reason: str
) -> int:
    """Record the quarter's entries whose idempotency key is new, with their history rows,
    in a few set-wise statements whatever their number; return how many were recorded.

    ``rows``: (partner id, kind, code, description, amount, status, idempotency key).
    Approved ones carry the approval time and ``due_on``, accrued ones neither. The keys
    already in the ledger are skipped, so a rerun records nothing twice (the close's lock
    keeps two closes of a quarter from racing; the key's uniqueness backs it).
    """
    if not rows:
        return 0
    known = set(
        LedgerEntry.objects.filter(idempotency_key__in=[row[6] for row in rows]).values_list(
            "idempotency_key", flat=True
        )
    )
    stamp = timezone.now()
    entries = LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                partner_id=partner_id,
                kind=kind,
                code=code,
                description=description,
                amount=amount,
                currency=program.currency,
                quarter=quarter.label,
                earned_on=quarter.end,
                status=status,
                approved_at=stamp if status == EntryStatus.APPROVED else None,
                due_on=due_on if status == EntryStatus.APPROVED else None,
                idempotency_key=key,
                created_at=stamp,
            )
            for partner_id, kind, code, description, amount, status, key in rows
            if key not in known
        ]
    )
    LedgerEntry.history.bulk_history_create(
        entries, default_user=by, default_change_reason=reason, default_date=stamp
    )
    return len(entries)


def _source_fields(source) -> dict:
    if source is None:
        return {}
    return {
        "source_type": ContentType.objects.get_for_model(source),
        "source_id": source.pk,
        "source_label": str(source)[:200],
    }


def _record_owed(
    *, partner, kind, code, description, amount, source, key: str, by, reason: str
) -> list[LedgerEntry]:
    """One amount owed at once by a manager's decision (approved, payable in 15 business
    days); nothing when the amount is zero or the key is already in the ledger."""
    if amount <= 0:
        return []
    program = partner.program
    today = timezone.localdate()
    entry = LedgerEntry(
        partner=partner,
        kind=kind,
        code=code,
        description=description[:300],
        amount=amount,
        currency=program.currency,
        quarter=_quarter_of(program, today),
        earned_on=today,
        status=EntryStatus.APPROVED,
        approved_at=timezone.now(),
        approved_by=by,
        due_on=_payment_due(program, today),
        idempotency_key=key,
        **_source_fields(source),
    )
    return _record([entry], by=by, reason=reason)


@audited
@transaction.atomic
def deal_incentives_accrue(
    *, partner: Partner, source, won: rules.WonDeal, closed_on: date, by: User | None = None
) -> list[LedgerEntry]:
    """What one won deal earns (SPIFFs, strategic bonuses, referral commission).

    SPIFFs and bonuses wait for the partner's claim (window: 30 days from the close);
    the commission is owed by the agreement and approved at once.
    """
    program = partner.program
    quarter = _quarter_of(program, closed_on)
    claim_by = rules.claim_deadline(closed_on, program.claim_window_days)
    now = timezone.now()
    entries = []
    for accrual in rules.deal_incentives(won, deal_incentive_table(program)):
        claimable = accrual.kind in CLAIMABLE_KINDS
        entries.append(
            LedgerEntry(
                partner=partner,
                kind=accrual.kind,
                code=accrual.code,
                description=accrual.description,
                amount=accrual.amount,
                currency=program.currency,
                quarter=quarter,
                earned_on=closed_on,
                claim_by=claim_by if claimable else None,
                status=EntryStatus.ACCRUED if claimable else EntryStatus.APPROVED,
                approved_at=None if claimable else now,
                due_on=None if claimable else _payment_due(program, closed_on),
                idempotency_key=f"deal:{source.pk}:{accrual.code}",
                **_source_fields(source),
            )
        )
    created = _record(entries, by=by, reason="Deal won")
    claimable_total = sum((e.amount for e in created if e.kind in CLAIMABLE_KINDS), Decimal(0))
    if claimable_total:
        notice_send(
            partner=partner,
            level="success",
            text=f"{source} earned {program.currency} {claimable_total:,.2f} in SPIFFs and "
            f"bonuses. Claim them by {claim_by:%d %b %Y}.",
            link="/portal/earnings/",
        )
    return created


@audited
@transaction.atomic
def quarter_incentives_accrue(
    *,
    program: Program,
    quarter: Quarter,
    stats: list[rules.QuarterStats],
    by: User | None = None,
) -> dict:
    """The quarter close's money: volume rebates (owed, due 30 days after the quarter) and
    award proposals (owed once a manager confirms them). A rerun adds nothing: rebates are
    keyed by partner and quarter, awards by award and quarter."""
    label = quarter.label
    brackets = rebate_brackets(program)
    rows = []  # (partner, kind, code, description, amount, status, idempotency key)
    for item in stats:
        rebate = rules.volume_rebate(item.revenue, brackets)
        if rebate.amount <= 0:
            continue
        fast = " (reaches the fast-track bracket)" if rebate.fast_track else ""
        rows.append(
            (
                item.partner_id,
                EntryKind.REBATE,
                "rebate",
                f"Volume rebate {label}: {rebate.rate:.1%} of {item.revenue:,.2f}{fast}",
                rebate.amount,
                EntryStatus.APPROVED,
                f"rebate:{item.partner_id}:{label}",
            )
        )
    for proposal in rules.propose_awards(stats, award_table(program)):
        name = rules.AWARD_NAMES[proposal.code]
        rows.append(
            (
                proposal.partner_id,
                EntryKind.AWARD,
                proposal.code,
                f"{name} {label}: {proposal.why}",
                proposal.amount,
                EntryStatus.ACCRUED,
                f"{proposal.code}:{program.slug}:{label}",
            )
        )
    created = _record_quarter(
        rows,
        program=program,
        quarter=quarter,
        due_on=rules.rebate_due_on(quarter.end, program.rebate_due_days),
        by=by,
        reason=f"Quarter close {label}",
    )
    recorded = LedgerEntry.objects.filter(
        quarter=label, partner__program=program, kind__in=(EntryKind.REBATE, EntryKind.AWARD)
    )
    return {
        "created": created,
        "rebates": recorded.filter(kind=EntryKind.REBATE).count(),
        "awards_proposed": recorded.filter(kind=EntryKind.AWARD).count(),
    }


def _locked_entry(entry: LedgerEntry) -> LedgerEntry:
    return (
        LedgerEntry.objects.select_for_update().select_related("partner__program").get(pk=entry.pk)
    )


@audited
@transaction.atomic
def award_confirm(*, entry: LedgerEntry, by: User) -> LedgerEntry:
    """A manager confirms a proposed award: it becomes owed, payable in 15 business days."""
    entry = _locked_entry(entry)
    if entry.kind != EntryKind.AWARD:
        raise IncentiveError("Only awards are confirmed this way.", code="not_award", status=400)
    if entry.status != EntryStatus.ACCRUED:
        raise _wrong_state(entry, "confirmed")
    today = timezone.localdate()
    entry.approve(by=by, at=timezone.now(), due_on=_payment_due(entry.partner.program, today))
    entry._change_reason = "Award confirmed"
    entry.save()
    notice_send(
        partner=entry.partner,
        level="success",
        text=f"Congratulations: {entry.description}.",
        link="/portal/earnings/",
        email_subject="You won a partner award",
    )
    return entry


@audited
@transaction.atomic
def award_decline(*, entry: LedgerEntry, by: User, reason: str) -> LedgerEntry:
    entry = _locked_entry(entry)
    if entry.kind != EntryKind.AWARD:
        raise IncentiveError("Only awards are declined this way.", code="not_award", status=400)
    if not (reason or "").strip():
        raise ValidationError({"reason": "Say why the award is declined."})
    if entry.status != EntryStatus.ACCRUED:
        raise _wrong_state(entry, "declined")
    entry.void(at=timezone.now(), reason=reason.strip())
    entry._change_reason = "Award declined"
    entry.save()
    return entry


@audited
@transaction.atomic
def ledger_mark_paid(*, entry_ids: Iterable[int], by: User, reference: str) -> int:
    """Finance records a payment run: approved entries become paid, once.

    Entries not approved (accrued, already paid, void) are left as they are, so a run
    marked twice pays nothing twice. Returns how many entries were marked.
    """
    reference = (reference or "").strip()
    if not reference:
        raise ValidationError({"reference": "Give the payment run's reference."})
    now = timezone.now()
    entries = list(
        LedgerEntry.objects.select_for_update()
        .filter(pk__in=list(entry_ids), status=EntryStatus.APPROVED)
        .order_by("pk")
    )
    for entry in entries:
        entry.pay(by=by, at=now, reference=reference[:120])
        entry._change_reason = "Paid"
        entry.save()
    return len(entries)


# ---------------------------------------------------------------- incentive claims


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
                % {"what": entry.description, "number": entry.claim_id},
                code="already_claimed",
            )
        if entry.status != EntryStatus.ACCRUED:
            raise IncentiveError(
                gettext("“%(what)s” is %(status)s; there is nothing to claim.")
                % {"what": entry.description, "status": entry.get_status_display().lower()},
                code="wrong_state",
            )
        if rules.claim_is_late(today, entry.claim_by):
            raise IncentiveError(
                gettext("The claim for “%(what)s” was due by %(day)s (%(iso)s).")
                % {
                    "what": entry.description,
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
    notice_send(
        partner=claim.partner,
        level="success",
        text=f"Your claim {claim.pk} for {claim.amount:,.2f} is approved.",
        link=f"/portal/claims/{claim.pk}/",
        email_subject="Your incentive claim is approved",
    )
    return claim


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
        text=f"Your claim {claim.pk} was rejected: {reason.strip()[:300]}. You may dispute it.",
        link=f"/portal/claims/{claim.pk}/",
        email_subject="Your incentive claim was rejected",
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
        text = f"Your dispute of claim {claim.pk} succeeded; the claim is approved."
    else:
        claim.uphold(by=by, at=now, note=note.strip())
        claim._change_reason = gettext_noop("Dispute: rejection upheld")
        claim.save()
        _void_entries(
            LedgerEntry.objects.filter(claim=claim, status=EntryStatus.ACCRUED),
            f"Claim {claim.pk} rejected; dispute upheld",
        )
        text = f"The rejection of claim {claim.pk} was upheld: {note.strip()[:300]}"
    notice_send(
        partner=claim.partner,
        level="info",
        text=text,
        link=f"/portal/claims/{claim.pk}/",
        email_subject="Your incentive dispute was decided",
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


# ---------------------------------------------------------------- contributions


@audited
@transaction.atomic
def contribution_submit(
    *, partner: Partner, by: User, kind: str, title: str, url: str = "", description: str = ""
) -> Contribution:
    contribution = Contribution(
        partner=partner,
        kind=kind,
        title=(title or "").strip(),
        url=(url or "").strip(),
        description=(description or "").strip(),
        submitted_by=by,
    )
    contribution.full_clean()
    contribution.save()
    return contribution


@audited
@transaction.atomic
def contribution_decide(
    *, contribution: Contribution, by: User, approve: bool, reason: str = ""
) -> Contribution:
    """Approve (earns the reference or community bonus, owed at once) or reject."""
    contribution = (
        Contribution.objects.select_for_update()
        .select_related("partner__program")
        .get(pk=contribution.pk)
    )
    if contribution.status != ContributionStatus.SUBMITTED:
        raise IncentiveError(
            f"This contribution is already {contribution.get_status_display().lower()}.",
            code="wrong_state",
        )
    if not approve and not (reason or "").strip():
        raise ValidationError({"reason": "Say why the contribution is rejected."})
    now = timezone.now()
    contribution.status = ContributionStatus.APPROVED if approve else ContributionStatus.REJECTED
    contribution.decided_by, contribution.decided_at = by, now
    contribution.reason = (reason or "").strip()
    contribution.save()
    if approve:
        program = contribution.partner.program
        reference = contribution.kind == "reference"
        amount = program.bonus_reference if reference else program.bonus_community
        _record_owed(
            partner=contribution.partner,
            kind=EntryKind.BONUS,
            code="bonus_reference" if reference else "bonus_community",
            description=f"{contribution.get_kind_display()}: {contribution.title}",
            amount=amount,
            source=contribution,
            key=f"contribution:{contribution.pk}",
            by=by,
            reason="Contribution approved",
        )
    return contribution


# ---------------------------------------------------------------- MDF funds


def fiscal_year_of(program: Program, day: date) -> int:
    return Quarter.containing(day, start_month=program.fiscal_year_start_month).year


def _fund_basis(tier, prior_revenue: Decimal) -> str:
    if tier.mdf_fund is not None:
        ratio = f", matched {tier.mdf_match_ratio:g}:1" if tier.mdf_match_ratio else ""
        return f"{tier.name}: fixed {tier.mdf_fund:,.0f} a year{ratio}"
    if tier.mdf_rate is not None:
        return f"{tier.name}: {tier.mdf_rate:.0%} of {prior_revenue:,.2f} prior-year revenue"
    return f"{tier.name}: no MDF"


def mdf_funds_open(
    *,
    program: Program,
    fiscal_year: int,
    prior_revenue: dict[int, Decimal],
    tiers: dict[int, int] | None = None,
) -> int:
    """Open the fund for ``fiscal_year`` of each partner of ``prior_revenue``, sized by its
    tier (RULEBOOK §7) on the prior 4 quarters' revenue given. A fund that exists keeps
    its size, except one opened empty (its tier had no MDF then) that the partner's tier
    now grants. ``tiers``: each partner's tier id, when the caller knows it (default: as
    stored).

    Called by the quarter close with the trailing revenue it computed and the tiers it
    decided; safe to rerun.
    """
    program_tiers = {tier.pk: tier for tier in Tier.objects.filter(program=program)}
    if tiers is None:
        tiers = dict(Partner.objects.filter(program=program).values_list("pk", "tier_id"))
    partners = [(pk, program_tiers[tiers[pk]]) for pk in prior_revenue if pk in tiers]
    existing = {
        partner_id: (pk, amount, reserved + reimbursed)
        for partner_id, pk, amount, reserved, reimbursed in MdfFund.objects.filter(
            partner__program=program, fiscal_year=fiscal_year
        ).values_list("partner_id", "pk", "amount", "reserved", "reimbursed")
    }
    fresh, grown = [], []
    for partner_id, tier in partners:
        revenue = prior_revenue.get(partner_id, Decimal(0))
        amount = rules.mdf_fund_size(rate=tier.mdf_rate, fixed=tier.mdf_fund, prior_revenue=revenue)
        fund = existing.get(partner_id)
        if fund is None:
            fresh.append((partner_id, amount, tier.mdf_match_ratio, _fund_basis(tier, revenue)))
        elif fund[1] == 0 and amount > 0 and fund[2] == 0:
            grown.append((fund[0], amount, tier.mdf_match_ratio, _fund_basis(tier, revenue)))
    stamp = timezone.now()
    with transaction.atomic():
        opened = MdfFund.objects.bulk_create(
            [
                MdfFund(
                    partner_id=partner_id,
                    fiscal_year=fiscal_year,
                    amount=amount,
                    match_ratio=ratio,
                    basis=basis,
                    created_at=stamp,
                )
                for partner_id, amount, ratio, basis in fresh
            ]
        )
        MdfFund.history.bulk_history_create(
            opened, default_change_reason="Opened with its tier's MDF", default_date=stamp
        )
        if grown:
            funds = MdfFund.objects.in_bulk([pk for pk, *_ in grown])
            for pk, amount, ratio, basis in grown:
                funds[pk].amount, funds[pk].match_ratio, funds[pk].basis = amount, ratio, basis
            bulk_update_with_history(
                list(funds.values()),
                MdfFund,
                ["amount", "match_ratio", "basis"],
                default_change_reason="Sized by the tier's MDF",
                default_date=stamp,
            )
    return len(fresh) + len(grown)


@audited
@transaction.atomic
def mdf_fund_set(*, partner: Partner, fiscal_year: int, amount, by: User, basis: str) -> MdfFund:
    """A manager opens or resizes a fund by hand; never below what it already holds."""
    amount = Decimal(str(amount))
    fund = (
        MdfFund.objects.select_for_update().filter(partner=partner, fiscal_year=fiscal_year).first()
    )
    if fund is None:
        return MdfFund.objects.create(
            partner=partner,
            fiscal_year=fiscal_year,
            amount=amount,
            match_ratio=partner.tier.mdf_match_ratio,
            basis=basis,
        )
    if amount < fund.reserved + fund.reimbursed:
        raise ValidationError(
            {"amount": f"The fund already holds {fund.reserved + fund.reimbursed:,.2f}."}
        )
    fund.amount, fund.basis = amount, basis
    fund._change_reason = f"Resized by {by}"
    fund.save()
    return fund


# ---------------------------------------------------------------- MDF requests


def _check_dates(starts_on: date, ends_on: date, today: date) -> None:
    if ends_on < starts_on:
        raise ValidationError({"ends_on": gettext("The activity must end on or after its start.")})
    if starts_on < today:
        raise ValidationError(
            {
                "starts_on": gettext(
                    "MDF needs approval before the activity starts; pick a future date."
                )
            }
        )


@audited
@transaction.atomic
def mdf_request_submit(
    *,
    partner: Partner,
    by: User,
    activity_type: str,
    title: str,
    planned_cost,
    starts_on: date,
    ends_on: date,
    expected_leads: int,
    description: str = "",
    campaign=None,
    today: date | None = None,
) -> MdfRequest:
    """Ask for pre-approval of an activity (RULEBOOK §7), optionally funding one of the
    partner's co-marketing campaigns."""
    today = today or timezone.localdate()
    if campaign is not None and campaign.partner_id != partner.pk:
        raise ValidationError({"campaign": gettext("Choose one of your own campaigns.")})
    _check_dates(starts_on, ends_on, today)
    program = partner.program
    year = fiscal_year_of(program, starts_on)
    fund = MdfFund.objects.filter(partner=partner, fiscal_year=year).first()
    if fund is None or fund.amount <= 0:
        raise IncentiveError(
            gettext("%(partner)s has no MDF fund for FY%(year)s%(basis)s.")
            % {"partner": partner, "year": year, "basis": f" ({fund.basis})" if fund else ""}
            + " "
            + gettext("Funds open with the quarter close, by tier."),
            code="no_fund",
            status=400,
        )
    request = MdfRequest(
        partner=partner,
        fund=fund,
        activity_type=activity_type,
        title=(title or "").strip(),
        description=(description or "").strip(),
        planned_cost=Decimal(str(planned_cost)),
        starts_on=starts_on,
        ends_on=ends_on,
        expected_leads=expected_leads,
        campaign=campaign,
        claim_due_on=rules.mdf_claim_due_on(ends_on, program.mdf_claim_window_days),
        submitted_by=by,
    )
    request.full_clean()
    share = rules.vendor_share(fund.match_ratio)
    wanted = rules.mdf_reservation(request.planned_cost, share)
    if wanted > fund.available:
        raise IncentiveError(
            gettext("This activity needs %(wanted)s of MDF; the FY%(year)s fund has %(left)s left.")
            % {"wanted": f"{wanted:,.2f}", "year": year, "left": f"{fund.available:,.2f}"},
            code="fund_exhausted",
            status=400,
        )
    request.save()
    # An MDF activity is a co-marketing campaign: the first one completes that onboarding step.
    onboarding_event(
        partner=partner,
        event="first_campaign",
        on=today,
        note=f"MDF activity “{request.title}”",
    )
    return request


def _locked_request(request: MdfRequest) -> tuple[MdfFund, MdfRequest]:
    """Lock the fund, then the request: the one order every MDF write takes."""
    fund = MdfFund.objects.select_for_update().get(pk=request.fund_id)
    request = (
        MdfRequest.objects.select_for_update(of=("self",))
        .select_related("partner__program")
        .get(pk=request.pk)
    )
    return fund, request


@audited
@transaction.atomic
def mdf_request_approve(
    *, request: MdfRequest, by: User, reserve=None, note: str = ""
) -> MdfRequest:
    """Pre-approval: reserve the vendor's share of the planned cost (or less) on the fund."""
    fund, request = _locked_request(request)
    if request.status != MdfRequestStatus.SUBMITTED:
        raise _wrong_state(request, "approved")
    share = rules.vendor_share(fund.match_ratio)
    most = rules.mdf_reservation(request.planned_cost, share)
    amount = most if reserve in (None, "") else Decimal(str(reserve))
    if amount <= 0 or amount > most:
        raise ValidationError(
            {"reserve": f"Reserve more than 0 and at most {most:,.2f} (the vendor's share)."}
        )
    if amount > fund.available:
        raise IncentiveError(
            f"The fund has {fund.available:,.2f} left; {amount:,.2f} cannot be reserved.",
            code="fund_exhausted",
        )
    fund.reserved += amount
    fund._change_reason = f"Reserved for request {request.pk}"
    fund.save()
    request.approve(by=by, at=timezone.now(), reserved=amount, note=(note or "").strip())
    request._change_reason = "Approved"
    request.save()
    notice_send(
        partner=request.partner,
        level="success",
        text=f"MDF request “{request.title}” approved: {amount:,.2f} reserved. "
        f"File the claim by {request.claim_due_on:%d %b %Y}.",
        link=f"/portal/mdf/requests/{request.pk}/",
        email_subject="Your MDF request is approved",
    )
    return request


@audited
@transaction.atomic
def mdf_request_reject(*, request: MdfRequest, by: User, note: str) -> MdfRequest:
    if not (note or "").strip():
        raise ValidationError({"note": "Say why the request is rejected."})
    _, request = _locked_request(request)
    if request.status != MdfRequestStatus.SUBMITTED:
        raise _wrong_state(request, "rejected")
    request.reject(by=by, at=timezone.now(), note=note.strip())
    request._change_reason = "Rejected"
    request.save()
    notice_send(
        partner=request.partner,
        level="warning",
        text=f"MDF request “{request.title}” was not approved: {note.strip()[:300]}",
        link=f"/portal/mdf/requests/{request.pk}/",
        email_subject="Your MDF request was not approved",
    )
    return request


@audited
@transaction.atomic
def mdf_request_cancel(*, request: MdfRequest, by: User) -> MdfRequest:
    """The partner withdraws a request not yet claimed; its reservation is released."""
    fund, request = _locked_request(request)
    if request.status not in (MdfRequestStatus.SUBMITTED, MdfRequestStatus.APPROVED):
        raise _wrong_state(request, "cancelled")
    fund.reserved -= request.reserved_amount
    fund._change_reason = f"Request {request.pk} cancelled"
    fund.save()
    request.cancel()
    request._change_reason = f"Cancelled by {by}"
    request.save()
    return request


def mdf_expire_lapsed(*, today: date | None = None) -> int:
    """Approved requests whose claim window closed without a claim release their funds."""
    today = today or timezone.localdate()
    count = 0
    lapsed = MdfRequest.objects.filter(
        status=MdfRequestStatus.APPROVED, claim_due_on__lt=today
    ).only("pk", "fund_id")
    for found in lapsed:
        with transaction.atomic():
            fund, request = _locked_request(found)
            if request.status != MdfRequestStatus.APPROVED or request.claim_due_on >= today:
                continue
            fund.reserved -= request.reserved_amount
            fund._change_reason = f"Request {request.pk}: claim window closed"
            fund.save()
            request.expire()
            request._change_reason = "Claim window closed"
            request.save()
            count += 1
    return count


# ---------------------------------------------------------------- MDF claims


@audited
def mdf_claim_submit(
    *,
    request: MdfRequest,
    by: User,
    actual_cost,
    leads_generated: int,
    files: list[ProofFile],
    notes: str = "",
    today: date | None = None,
) -> MdfClaim:
    """Proof of performance, due within 30 days after the activity ends.

    Everything is checked before anything is written; the files are stored inside the
    transaction and removed again if it fails, so a refusal leaves nothing behind.
    """
    today = today or timezone.localdate()
    request = MdfRequest.objects.select_related("partner").get(pk=request.pk)
    actual = Decimal(str(actual_cost))
    if actual <= 0:
        raise ValidationError({"actual_cost": gettext("The actual cost must be more than zero.")})
    if request.status not in (MdfRequestStatus.APPROVED, MdfRequestStatus.CLAIMED):
        raise _wrong_state(request, "claimed")
    if request.status == MdfRequestStatus.CLAIMED:
        raise IncentiveError(
            gettext("A claim for this activity is already filed."), code="already_claimed"
        )
    if today < request.ends_on:
        raise IncentiveError(
            gettext("The activity ends on %(day)s; file the claim after it.")
            % {"day": date_format(request.ends_on)},
            code="too_early",
            status=400,
        )
    if today > request.claim_due_on:
        raise IncentiveError(
            gettext("The claim was due by %(day)s (%(iso)s).")
            % {"day": date_format(request.claim_due_on), "iso": request.claim_due_on.isoformat()},
            code="claim_late",
            status=400,
        )
    check_proofs(files)
    stored: list[MdfProof] = []
    try:
        with transaction.atomic():
            _, request = _locked_request(request)
            if request.status != MdfRequestStatus.APPROVED:
                raise IncentiveError(
                    gettext("A claim for this activity is already filed."), code="already_claimed"
                )
            try:
                with transaction.atomic():
                    claim = MdfClaim.objects.create(
                        request=request,
                        partner=request.partner,
                        actual_cost=actual,
                        leads_generated=leads_generated,
                        notes=(notes or "").strip(),
                        submitted_by=by,
                    )
            except IntegrityError as exc:
                raise IncentiveError(
                    gettext("A claim for this activity is already filed."), code="already_claimed"
                ) from exc
            for upload in files:
                proof = MdfProof(
                    claim=claim, name=upload.name, size=upload.size, content_type=upload.kind
                )
                proof.file.save(upload.name, upload.content, save=False)
                stored.append(proof)
                proof.save()
            request.file_claim()
            request._change_reason = "Claim filed"
            request.save()
    except Exception:
        for proof in stored:
            proof.file.delete(save=False)
        raise
    return claim


def _locked_claim_chain(claim: MdfClaim) -> tuple[MdfFund, MdfRequest, MdfClaim]:
    fund, request = _locked_request(claim.request)
    claim = MdfClaim.objects.select_for_update().get(pk=claim.pk)
    return fund, request, claim


@audited
@transaction.atomic
def mdf_claim_approve(*, claim: MdfClaim, by: User) -> MdfClaim:
    """Reimburse min(reserved, actual × vendor share, remaining fund); one ledger entry."""
    fund, request, claim = _locked_claim_chain(claim)
    if claim.status != MdfClaimStatus.SUBMITTED:
        raise _wrong_state(claim, "approved")
    held_by_others = fund.reserved - request.reserved_amount
    amount = rules.mdf_reimbursement(
        reserved=request.reserved_amount,
        actual_cost=claim.actual_cost,
        share=rules.vendor_share(fund.match_ratio),
        remaining=fund.amount - fund.reimbursed - held_by_others,
    )
    now = timezone.now()
    fund.reserved -= request.reserved_amount
    fund.reimbursed += amount
    fund._change_reason = f"Claim {claim.pk} reimbursed"
    fund.save()
    claim.approve(by=by, at=now, reimbursement=amount)
    claim._change_reason = "Approved"
    claim.save()
    request.reimburse()
    request._change_reason = "Reimbursed"
    request.save()
    _record_owed(
        partner=request.partner,
        kind=EntryKind.MDF,
        code="mdf_reimbursement",
        description=f"MDF: {request.title}",
        amount=amount,
        source=request,
        key=f"mdf_request:{request.pk}",
        by=by,
        reason="MDF claim approved",
    )
    notice_send(
        partner=request.partner,
        level="success",
        text=f"MDF claim for “{request.title}” approved: {amount:,.2f} reimbursed.",
        link=f"/portal/mdf/requests/{request.pk}/",
        email_subject="Your MDF claim is approved",
    )
    return claim


@audited
@transaction.atomic
def mdf_claim_reject(*, claim: MdfClaim, by: User, reason: str) -> MdfClaim:
    """Rejected: the partner may file again while the window is open; after it, the
    reservation is released."""
    if not (reason or "").strip():
        raise ValidationError({"reason": "Say why the claim is rejected."})
    fund, request, claim = _locked_claim_chain(claim)
    if claim.status != MdfClaimStatus.SUBMITTED:
        raise _wrong_state(claim, "rejected")
    claim.reject(by=by, at=timezone.now(), reason=reason.strip())
    claim._change_reason = "Rejected"
    claim.save()
    request.reopen()
    if timezone.localdate() > request.claim_due_on:
        fund.reserved -= request.reserved_amount
        fund._change_reason = f"Request {request.pk}: claim rejected after its window"
        fund.save()
        request.expire()
    request._change_reason = gettext_noop("Claim rejected")
    request.save()
    notice_send(
        partner=request.partner,
        level="warning",
        text=f"MDF claim for “{request.title}” was rejected: {reason.strip()[:300]}",
        link=f"/portal/mdf/requests/{request.pk}/",
        email_subject="Your MDF claim was rejected",
    )
    return claim
