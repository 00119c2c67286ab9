"""The ledger's accruals (RULEBOOK §5, §6): what a won deal and a quarter close earn,
awards confirmed or declined, and payment runs.

Every entry carries an idempotency key unique in the database, so a retried task, a rerun
close or a double click records nothing twice.
"""

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from integrations.models import EventKind
from integrations.services import events_publish
from partners.models import NoticeKind, Partner, Program, ProgramVersion, User
from partners.queries import rebate_brackets
from partners.services import notice_send
from partners.services.currencies import Converted, RateMissing, Rates
from partners.services.versions import program_version_for_entries
from prm.audit import audited
from prm.deferred_text import amount_value, date_value, text_value
from prm.quarters import Quarter

from .. import rules
from ..models import EntryKind, EntryStatus, LedgerEntry
from .common import CLAIMABLE_KINDS, IncentiveError, _payment_due, _wrong_state


def deal_incentive_table(incentives: dict) -> rules.DealIncentiveTable:
    """What a won deal earns, from a program version's ``incentives`` snapshot."""
    return rules.DealIncentiveTable(
        **{
            name: int(incentives[name])
            if name == "spiff_new_logo_days"
            else Decimal(incentives[name])
            for name in rules.DealIncentiveTable.__dataclass_fields__
        }
    )


def version_earning(program: Program, day: date) -> ProgramVersion:
    """The program version what is earned on ``day`` is figured by (RULEBOOK §12); the
    entries name it."""
    return program_version_for_entries(program, _quarter_of(program, day))


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


# ---------------------------------------------------------------- recording entries


def _converted(rates: Rates, amount, currency: str, day: date) -> Converted:
    """``rates.from_reporting``, its refusal worded for a form or an API answer."""
    try:
        return rates.from_reporting(amount, currency, day)
    except RateMissing as exc:
        raise ValidationError({NON_FIELD_ERRORS: exc.messages}) from exc


def _partner_amounts(entries: list[LedgerEntry], base: str) -> None:
    """Give each entry its amount in the currency its partner is paid in, at the rate of
    its accrual day (``earned_on``), stored beside the reporting amount (RULEBOOK §12).
    One query for the partners' currencies unless the entries carry their partner, and
    one per currency and day for the rates; ``RateMissing`` refuses the whole batch."""
    currencies = {
        entry.partner_id: entry.partner.currency
        for entry in entries
        if LedgerEntry.partner.is_cached(entry)
    }
    unknown = {entry.partner_id for entry in entries} - set(currencies)
    if unknown:
        currencies |= dict(Partner.objects.filter(pk__in=unknown).values_list("pk", "currency"))
    rates = Rates(base)
    for entry in entries:
        paid_in = currencies.get(entry.partner_id) or base
        converted = _converted(rates, entry.amount, paid_in, entry.earned_on)
        entry.partner_amount, entry.partner_currency = converted.amount, paid_in
        entry.partner_rate, entry.partner_rate_day = converted.rate, converted.rate_day


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
    _partner_amounts(fresh, fresh[0].currency)
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
    rows: list[tuple],
    *,
    program: Program,
    quarter: Quarter,
    due_on: date,
    by,
    reason: str,
    version_id: int | None = None,
) -> int:
    """Record the quarter's entries whose idempotency key is new, with their history rows,
    in a few set-wise statements whatever their number; return how many were recorded.

    ``rows``: (partner id, kind, code, description, amount, status, idempotency key), the
    description as ``rules.described`` gives it.
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
    fresh = [
        LedgerEntry(
            partner_id=partner_id,
            kind=kind,
            code=code,
            **_description_fields(description),
            amount=amount,
            currency=program.currency,
            quarter=quarter.label,
            earned_on=quarter.end,
            status=status,
            approved_at=stamp if status == EntryStatus.APPROVED else None,
            due_on=due_on if status == EntryStatus.APPROVED else None,
            idempotency_key=key,
            created_at=stamp,
            version_id=version_id,
        )
        for partner_id, kind, code, description, amount, status, key in rows
        if key not in known
    ]
    _partner_amounts(fresh, program.currency)
    entries = LedgerEntry.objects.bulk_create(fresh)
    LedgerEntry.history.bulk_history_create(
        entries, default_user=by, default_change_reason=reason, default_date=stamp
    )
    return len(entries)


def _description_fields(description: dict | str) -> dict:
    """A ledger entry's description fields from ``rules.described``'s dict (shown in the
    reader's language), or from a text (shown as it is)."""
    if isinstance(description, str):
        return {"description": description[:300]}
    return {
        "description": description["description"][:300],
        "description_message": description["message"],
        "description_params": description["params"],
    }


def _source_fields(source) -> dict:
    if source is None:
        return {}
    return {
        "source_type": ContentType.objects.get_for_model(source),
        "source_id": source.pk,
        "source_label": str(source)[:200],
    }


def _record_owed(
    *,
    partner,
    kind,
    code,
    description,
    amount,
    source,
    key: str,
    by,
    reason: str,
    version: ProgramVersion | None = None,
) -> list[LedgerEntry]:
    """One amount owed at once by a manager's decision (approved, payable in 15 business
    days); nothing when the amount is zero or the key is already in the ledger. It names
    ``version``, the program version the amount was figured by, or else the version in
    force that day (RULEBOOK §12: every entry names the version it was decided under)."""
    if amount <= 0:
        return []
    program = partner.program
    today = timezone.localdate()
    version = version or version_earning(program, today)
    entry = LedgerEntry(
        partner=partner,
        kind=kind,
        code=code,
        **_description_fields(description),
        amount=amount,
        currency=program.currency,
        quarter=_quarter_of(program, today),
        earned_on=today,
        status=EntryStatus.APPROVED,
        approved_at=timezone.now(),
        approved_by=by,
        due_on=_payment_due(program, today),
        idempotency_key=key,
        version=version,
        **_source_fields(source),
    )
    return _record([entry], by=by, reason=reason)


@audited
@transaction.atomic
def deal_incentives_accrue(
    *, partner: Partner, source, won: rules.WonDeal, closed_on: date, by: User | None = None
) -> list[LedgerEntry]:
    """What one won deal earns (SPIFFs, strategic bonuses, referral commission).

    SPIFFs and bonuses are figured by the program version in force for the quarter of
    the close (``version_earning``); they wait for the partner's claim (window: 30 days
    from the close). The commission is owed by the agreement and approved at once. Every
    entry names the version.
    """
    program = partner.program
    quarter = _quarter_of(program, closed_on)
    claim_by = rules.claim_deadline(closed_on, program.claim_window_days)
    version = version_earning(program, closed_on)
    now = timezone.now()
    entries = []
    for accrual in rules.deal_incentives(won, deal_incentive_table(version.rules["incentives"])):
        claimable = accrual.kind in CLAIMABLE_KINDS
        entries.append(
            LedgerEntry(
                partner=partner,
                kind=accrual.kind,
                code=accrual.code,
                description=accrual.description,
                description_message=accrual.message,
                description_params=accrual.params,
                amount=accrual.amount,
                currency=program.currency,
                quarter=quarter,
                earned_on=closed_on,
                claim_by=claim_by if claimable else None,
                status=EntryStatus.ACCRUED if claimable else EntryStatus.APPROVED,
                approved_at=None if claimable else now,
                due_on=None if claimable else _payment_due(program, closed_on),
                idempotency_key=f"deal:{source.pk}:{accrual.code}",
                version=version,
                **_source_fields(source),
            )
        )
    created = _record(entries, by=by, reason="Deal won")
    claimable_total = sum((e.amount for e in created if e.kind in CLAIMABLE_KINDS), Decimal(0))
    if claimable_total:
        notice_send(
            partner=partner,
            level="success",
            kind=NoticeKind.EARNINGS,
            message=gettext_noop(
                "%(source)s earned %(currency)s %(amount)s in SPIFFs and bonuses. "
                "Claim them by %(day)s."
            ),
            params={
                "source": str(source),
                "currency": program.currency,
                "amount": amount_value(claimable_total),
                "day": date_value(claim_by),
            },
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
    brackets: list[tuple] | None = None,
    awards: rules.AwardTable | None = None,
    version_id: int | None = None,
) -> dict:
    """The quarter close's money: volume rebates (owed, due 30 days after the quarter) and
    award proposals (owed once a manager confirms them). A rerun adds nothing: rebates are
    keyed by partner and quarter, awards by award and quarter.

    ``brackets`` and ``awards``: the rebate table and award amounts of the program version
    the close decides under (``version_id``, kept on each entry); the live program's
    when not given."""
    label = quarter.label
    if brackets is None:
        brackets = rebate_brackets(program)
    rows = []  # (partner, kind, code, description, amount, status, idempotency key)
    for item in stats:
        rebate = rules.volume_rebate(item.revenue, brackets)
        if rebate.amount <= 0:
            continue
        if rebate.fast_track:
            source = gettext_noop(
                "Volume rebate %(quarter)s: %(rate)s of %(revenue)s "
                "(reaches the fast-track bracket)"
            )
        else:
            source = gettext_noop("Volume rebate %(quarter)s: %(rate)s of %(revenue)s")
        rows.append(
            (
                item.partner_id,
                EntryKind.REBATE,
                "rebate",
                rules.described(
                    source, quarter=label, rate=f"{rebate.rate:.1%}", revenue=f"{item.revenue:,.2f}"
                ),
                rebate.amount,
                EntryStatus.APPROVED,
                f"rebate:{item.partner_id}:{label}",
            )
        )
    for proposal in rules.propose_awards(stats, awards or award_table(program)):
        name = rules.AWARD_NAMES[proposal.code]
        rows.append(
            (
                proposal.partner_id,
                EntryKind.AWARD,
                proposal.code,
                {
                    "description": f"{name} {label}: {proposal.why}",
                    "message": gettext_noop("%(award)s %(quarter)s: %(why)s"),
                    "params": {
                        "award": text_value(name),
                        "quarter": label,
                        "why": text_value(proposal.message, **proposal.params),
                    },
                },
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
        version_id=version_id,
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
        kind=NoticeKind.EARNINGS,
        message=gettext_noop("Congratulations: %(award)s."),
        params={
            "award": text_value(entry.description_message, **entry.description_params)
            if entry.description_message
            else entry.description
        },
        link="/portal/earnings/",
        email_subject=gettext_noop("You won a partner award"),
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
    today = timezone.localdate(now)
    entries = list(
        LedgerEntry.objects.select_for_update()
        .filter(pk__in=list(entry_ids), status=EntryStatus.APPROVED)
        .order_by("pk")
    )
    rates = {}
    for entry in entries:
        # Paid in the partner's currency at the payment date's rate; a missing rate
        # refuses the whole run (nothing is marked).
        book = rates.setdefault(entry.currency, Rates(entry.currency))
        paid = _converted(book, entry.amount, entry.partner_currency, today)
        entry.pay(by=by, at=now, reference=reference[:120], paid=paid)
        entry._change_reason = "Paid"
        entry.save()
    events_publish(
        (
            entry.partner_id,
            EventKind.LEDGER_PAID,
            {
                "entry_id": entry.pk,
                "partner_id": entry.partner_id,
                "kind": entry.kind,
                "code": entry.code,
                "description": entry.description,
                "amount": f"{entry.amount:.2f}",
                "currency": entry.currency,
                "paid_amount": f"{entry.paid_amount:.2f}",
                "paid_currency": entry.partner_currency,
                "quarter": entry.quarter,
                "earned_on": entry.earned_on,
                "paid_at": now,
                "reference": entry.payment_reference,
            },
        )
        for entry in entries
    )
    return len(entries)
