"""Decisions replayed from what they stored, and a draft version tried on the last closed
quarter (RULEBOOK §12).

Both decide through ``scoring.version_rules``, the functions the quarter close decides
with, on the inputs each scorecard stored: a replay under the scorecard's own version
gives what the close gave; a what-if under a draft gives what the draft would have given.
Neither writes anything.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext

from deals.models import Deal
from deals.queries import won_deal_facts
from incentives import rules as incentive_rules
from incentives.models import EntryKind, EntryStatus, LedgerEntry
from incentives.services.ledger import deal_incentive_table
from partners.models import Program, ProgramVersion
from partners.services.versions import last_closed_quarter, may_edit_versions
from partners.version_rules import rules_equal
from prm.quarters import Quarter

from .. import rules, version_rules
from ..models import Scorecard
from ..version_rules import ProgramRules

_ZERO = Decimal("0")


@dataclass(frozen=True)
class Replayed:
    """A scorecard's decision as its stored inputs and version give it."""

    revenue: Decimal
    pipeline: Decimal
    certification: Decimal
    satisfaction: Decimal
    engagement: Decimal
    total: Decimal
    band: str
    csat_no_data: bool
    qualified_tier_id: int
    meets_lowest: bool
    decision: str
    tier_after_id: int

    @classmethod
    def of(cls, card: Scorecard) -> "Replayed":
        """What ``card`` stored, to compare."""
        return cls(
            **{name: getattr(card, name) for name in cls.__dataclass_fields__ if name != "pk"}
        )


def _rules_of(version: ProgramVersion, cache: dict) -> ProgramRules:
    if version.pk not in cache:
        cache[version.pk] = version_rules.program_rules(version.rules)
    return cache[version.pk]


def replay_scorecard(card: Scorecard, *, cache: dict | None = None) -> Replayed:
    """``card`` decided again from its stored inputs under its version's rules."""
    if card.version_id is None:
        raise ValidationError(
            gettext("This scorecard names no program version: it cannot be replayed."),
            code="no_version",
        )
    decided = version_rules.decide_partner(
        _rules_of(card.version, {} if cache is None else cache),
        card.tier_before_id,
        version_rules.close_inputs(card.inputs),
    )
    card_ = decided.card
    return Replayed(
        revenue=card_.revenue,
        pipeline=card_.pipeline,
        certification=card_.certification,
        satisfaction=card_.satisfaction,
        engagement=card_.engagement,
        total=card_.total,
        band=card_.band,
        csat_no_data=card_.csat_no_data,
        qualified_tier_id=decided.qualified_tier_id,
        meets_lowest=decided.meets_lowest,
        decision=decided.decision.action,
        tier_after_id=decided.tier_after_id,
    )


@dataclass(frozen=True)
class QuarterMoneyReplayed:
    rebates: dict[int, Decimal]  # partner id → amount
    awards: dict[str, tuple[int, Decimal]]  # award code → (partner id, amount)


def replay_quarter_money(cards: list[Scorecard], version: ProgramVersion) -> QuarterMoneyReplayed:
    """A program's rebates and award proposals for a quarter, from its scorecards of that
    quarter (``cards``, decided under ``version``) as the close paid them: the partners
    that stay, with their score and the requirement of the tier they hold after."""
    decides = version_rules.program_rules(version.rules)
    stats = [
        version_rules.quarter_stats(
            card.partner_id,
            version_rules.close_inputs(card.inputs),
            score=card.total,
            reps_required=decides.reps_required(card.tier_after_id),
        )
        for card in cards
        if card.decision != rules.Action.EXIT
    ]
    money = version_rules.quarter_money(stats, decides)
    return QuarterMoneyReplayed(
        rebates=money.rebates,
        awards={award.code: (award.partner_id, award.amount) for award in money.awards},
    )


# ---------------------------------------------------------------- the what-if


@dataclass
class WhatIfRow:
    partner_id: int
    partner: str
    tier_actual: str
    tier_draft: str
    band_actual: str
    band_draft: str
    total_actual: Decimal
    total_draft: Decimal
    rebate_actual: Decimal = _ZERO
    rebate_draft: Decimal = _ZERO
    awards_actual: Decimal = _ZERO
    awards_draft: Decimal = _ZERO
    incentives_actual: Decimal = _ZERO  # SPIFFs and bonuses of wins and contributions
    incentives_draft: Decimal = _ZERO

    @property
    def moves(self) -> bool:
        return self.tier_actual != self.tier_draft

    @property
    def band_changes(self) -> bool:
        return self.band_actual != self.band_draft

    @property
    def payout_actual(self) -> Decimal:
        return self.rebate_actual + self.awards_actual + self.incentives_actual

    @property
    def payout_draft(self) -> Decimal:
        return self.rebate_draft + self.awards_draft + self.incentives_draft

    @property
    def payout_difference(self) -> Decimal:
        return self.payout_draft - self.payout_actual

    @property
    def changes(self) -> bool:
        return self.moves or self.band_changes or bool(self.payout_difference)


@dataclass
class WhatIf:
    """A draft tried on the program's last closed quarter: per partner and in total."""

    quarter: str
    currency: str
    rows: list[WhatIfRow] = field(default_factory=list)

    @property
    def movers(self) -> int:
        return sum(row.moves for row in self.rows)

    @property
    def band_changes(self) -> int:
        return sum(row.band_changes for row in self.rows)

    def total(self, name: str) -> Decimal:
        return sum((getattr(row, name) for row in self.rows), _ZERO)


def what_if(draft: ProgramVersion, *, by=None) -> WhatIf:
    """Try ``draft`` on its program's last closed quarter, writing nothing: for every
    partner scored then, its tier, band, score, rebate, awards, and the SPIFFs and bonuses
    of its wins and contributions, as they were decided against as the draft decides them
    from the same stored inputs and deals, movers first.

    A handful of queries whatever the number of partners: the scorecards of the quarter
    in one, the quarter's wins in another, its rebates, awards, SPIFFs and bonuses in a
    third."""
    if by is not None and not may_edit_versions(by):
        raise PermissionDenied(gettext("Only a channel chief or an admin may try versions."))
    program = draft.program
    label = last_closed_quarter(program)
    if not label:
        raise ValidationError(
            gettext(
                "No quarter of %(program)s has been closed yet: there is nothing to try "
                "the draft on."
            )
            % {"program": program},
            code="nothing_closed",
        )
    decides = version_rules.program_rules(draft.rules)
    cards = list(
        Scorecard.objects.filter(quarter=label, partner__program=program)
        .only(
            "partner_id",
            "partner__name",
            "tier_before_id",
            "tier_after_id",
            "decision",
            "band",
            "total",
            "inputs",
        )
        .select_related("partner")
        .order_by("partner__name", "partner_id")
    )
    names = {pk: tier.name for pk, tier in decides.tiers.items()}
    rows: dict[int, WhatIfRow] = {}
    stats = []
    for card in cards:
        given = version_rules.close_inputs(card.inputs)
        decided = version_rules.decide_partner(decides, card.tier_before_id, given)
        rows[card.partner_id] = WhatIfRow(
            partner_id=card.partner_id,
            partner=card.partner.name,
            tier_actual=names.get(card.tier_after_id, str(card.tier_after_id)),
            tier_draft=names[decided.tier_after_id],
            band_actual=card.band,
            band_draft=decided.card.band,
            total_actual=card.total,
            total_draft=decided.card.total,
        )
        if decided.decision.action != rules.Action.EXIT:
            stats.append(
                version_rules.quarter_stats(
                    card.partner_id,
                    given,
                    score=decided.card.total,
                    reps_required=decides.reps_required(decided.tier_after_id),
                )
            )
    money = version_rules.quarter_money(stats, decides)
    for pid, amount in money.rebates.items():
        rows[pid].rebate_draft = amount
    for award in money.awards:
        rows[award.partner_id].awards_draft += award.amount
    incentives = draft.rules["incentives"]
    paid = LedgerEntry.objects.filter(
        quarter=label,
        partner__program=program,
        kind__in=(EntryKind.REBATE, EntryKind.AWARD, EntryKind.SPIFF, EntryKind.BONUS),
    ).values_list("partner_id", "kind", "code", "amount", "status", "source_id", "version_id")
    won_by = set()  # the versions the wins' SPIFFs and bonuses were figured by
    wins_earned: dict[int, Decimal] = defaultdict(lambda: _ZERO)
    voided = set()  # (deal, rule) of the wins' SPIFFs and bonuses voided (lapsed unclaimed)
    for pid, kind, code, amount, status, source_id, version_id in paid:
        won = kind in (EntryKind.SPIFF, EntryKind.BONUS) and code not in CONTRIBUTION_BONUSES
        if won:
            won_by.add(version_id)
        if status == EntryStatus.VOID:
            if won:
                voided.add((source_id, code))
            continue
        if won:
            wins_earned[pid] += amount
        row = rows.get(pid)
        if row is None:
            continue
        if kind == EntryKind.REBATE:
            row.rebate_actual += amount
        elif kind == EntryKind.AWARD:
            row.awards_actual += amount
        else:
            row.incentives_actual += amount
            if code in CONTRIBUTION_BONUSES:  # a flat amount for each contribution
                row.incentives_draft += Decimal(incentives[code])
    if (
        won_by
        and None not in won_by
        and all(
            rules_equal(rules["incentives"], incentives)
            for rules in ProgramVersion.objects.filter(pk__in=won_by).values_list(
                "rules", flat=True
            )
        )
    ):
        # The draft keeps the amounts every win of the quarter was figured by, so each win
        # earns under it what it earned (every SPIFF and bonus replays from its deal and
        # version): the quarter's wins need not be figured again.
        earned = wins_earned
    else:
        earned = _wins_earning(program, label, deal_incentive_table(incentives), voided)
    for pid, amount in earned.items():
        if pid in rows:
            rows[pid].incentives_draft += amount
    ordered = sorted(
        rows.values(),
        key=lambda row: (not row.moves, not row.changes, row.partner.casefold(), row.partner_id),
    )
    return WhatIf(quarter=label, currency=program.currency, rows=ordered)


# The bonuses an approved contribution earns, each the version's flat amount.
CONTRIBUTION_BONUSES = ("bonus_reference", "bonus_community")


def _wins_earning(
    program: Program,
    label: str,
    table: incentive_rules.DealIncentiveTable,
    voided: set[tuple[int, str]] = frozenset(),
) -> dict[int, Decimal]:
    """The SPIFFs and bonuses each partner's wins closed in quarter ``label`` earn by
    ``table``, but those ``voided`` (deal id, rule) as decided: one query. A SPIFF that
    lapsed unclaimed would have lapsed under the draft too."""
    quarter = Quarter.parse(label, start_month=program.fiscal_year_start_month)
    wins = Deal.objects.filter(
        partner__program=program, closed_on__range=(quarter.start, quarter.end)
    )
    earned: dict[int, Decimal] = defaultdict(lambda: _ZERO)
    for pk, pid, won in won_deal_facts(wins):
        for accrual in incentive_rules.deal_incentives(won, table):
            if accrual.kind in (EntryKind.SPIFF, EntryKind.BONUS) and (
                (pk, accrual.code) not in voided
            ):
                earned[pid] += accrual.amount
    return earned


def replay_win_differences(entries) -> list[str]:
    """Where the SPIFFs and bonuses of won deals among ``entries`` (ledger entries naming
    their version) differ from what their deals' facts earn by that version, in words;
    empty when every one can be explained."""
    entries = [e for e in entries if e.kind in (EntryKind.SPIFF, EntryKind.BONUS)]
    deal_type = ContentType.objects.get_for_model(Deal)
    by_deal: dict[int, list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        if entry.source_type_id == deal_type.pk:
            by_deal[entry.source_id].append(entry)
    named = {entry.version_id for entry in entries} - {None}
    tables = {
        pk: deal_incentive_table(rules["incentives"])
        for pk, rules in ProgramVersion.objects.filter(pk__in=named).values_list("pk", "rules")
    }
    problems = []
    for pk, _, won in won_deal_facts(Deal.objects.filter(pk__in=list(by_deal))):
        stored = by_deal[pk]
        versions = {entry.version_id for entry in stored}
        if len(versions) != 1 or None in versions:
            problems.append(f"deal {pk}: versions {sorted(v for v in versions if v)}")
            continue
        (version_id,) = versions
        table = tables[version_id]
        again = {
            a.code: a.amount
            for a in incentive_rules.deal_incentives(won, table)
            if a.kind in (EntryKind.SPIFF, EntryKind.BONUS)
        }
        kept = {entry.code: entry.amount for entry in stored}
        if kept != again:
            problems.append(f"deal {pk}: {kept} stored, {again} replayed")
    return problems


def replay_differences(cards) -> list[tuple[Scorecard, Replayed, Replayed]]:
    """The scorecards among ``cards`` whose replay differs from what they stored (with the
    two): none, when every decision can be explained."""
    cache: dict = {}
    differing = []
    for card in cards:
        again = replay_scorecard(card, cache=cache)
        stored = Replayed.of(card)
        if again != stored:
            differing.append((card, stored, again))
    return differing


def replay_money_differences(cards: list[Scorecard]) -> list[str]:
    """Where the close's rebates and award proposals of the quarters of ``cards`` differ
    from their replay, in words; empty when every entry can be explained."""
    groups: dict[tuple, list[Scorecard]] = defaultdict(list)
    for card in cards:
        groups[card.partner.program_id, card.quarter, card.version_id].append(card)
    problems = []
    for (program_id, label, _), group in groups.items():
        money = replay_quarter_money(group, group[0].version)
        entries = LedgerEntry.objects.filter(
            quarter=label,
            partner__program_id=program_id,
            kind__in=(EntryKind.REBATE, EntryKind.AWARD),
        ).values_list("partner_id", "kind", "code", "amount", "version_id")
        rebates, awards = {}, {}
        for pid, kind, code, amount, version_id in entries:
            if version_id != group[0].version_id:
                problems.append(f"{label} {code} of partner {pid}: version {version_id}")
            if kind == EntryKind.REBATE:
                rebates[pid] = amount
            else:
                awards[code] = (pid, amount)
        if rebates != money.rebates:
            problems.append(f"{label} rebates: {rebates} stored, {money.rebates} replayed")
        if awards != money.awards:
            problems.append(f"{label} awards: {awards} stored, {money.awards} replayed")
    return problems
