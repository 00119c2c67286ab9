"""Lead routing (RULEBOOK §11) as pure functions on plain values: no ORM, no clock, no I/O.

Rules are tried in priority order; the first rule that fits the lead and has a partner
with room decides. Among that rule's partners, the one with the fewest open leads
relative to its tier's capacity gets the lead; ties go to the partner that has waited
longest since its last offer (never offered: longest of all), then to the lowest id so
that the choice is repeatable.
"""

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction


@dataclass(frozen=True)
class LeadFacts:
    country: str = ""
    region: str = ""
    specialty: str = ""
    language: str = ""


@dataclass(frozen=True)
class RuleFacts:
    id: int
    program_id: int
    countries: frozenset[str] = frozenset()
    region: str = ""
    specialty: str = ""
    language: str = ""
    match_location: bool = True
    match_specialty: bool = False
    match_language: bool = False
    tier_ids: frozenset[int] = frozenset()


@dataclass(frozen=True)
class PartnerFacts:
    id: int
    program_id: int
    tier_id: int
    capacity: int
    open_leads: int
    last_offered_at: datetime | None = None
    region: str = ""
    countries: frozenset[str] = frozenset()
    specialties: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Choice:
    rule_id: int
    partner_id: int


def codes(values: Iterable[str] | None, *, upper: bool = False) -> frozenset[str]:
    """A list of codes as typed (``["de", " FR "]``) as a set of clean ones."""
    cleaned = (str(value).strip() for value in values or ())
    return frozenset(value.upper() if upper else value.lower() for value in cleaned if value)


def rule_fits(rule: RuleFacts, lead: LeadFacts) -> bool:
    """Does ``lead`` meet each criterion ``rule`` sets (an empty criterion: any lead)?"""
    return (
        (not rule.countries or lead.country in rule.countries)
        and (not rule.region or lead.region == rule.region)
        and (not rule.specialty or lead.specialty == rule.specialty)
        and (not rule.language or lead.language == rule.language)
    )


def covers(rule: RuleFacts, lead: LeadFacts, partner: PartnerFacts) -> bool:
    """Is ``partner`` one of ``rule``'s candidates for ``lead``? Its program and tier, and
    each dimension the rule matches on: a partner that lists countries covers those, one
    that lists none covers its region; a lead without the value matches no partner."""
    if partner.program_id != rule.program_id:
        return False
    if rule.tier_ids and partner.tier_id not in rule.tier_ids:
        return False
    if rule.match_location:
        if partner.countries:
            if lead.country not in partner.countries:
                return False
        elif not lead.region or lead.region != partner.region:
            return False
    if rule.match_specialty and lead.specialty not in partner.specialties:
        return False
    return not (rule.match_language and lead.language not in partner.languages)


def load(partner: PartnerFacts) -> Fraction:
    """Open leads relative to capacity, exactly (no float ties broken by rounding)."""
    return Fraction(partner.open_leads, partner.capacity)


def choose_partner(
    lead: LeadFacts,
    rules: Iterable[RuleFacts],
    partners: Collection[PartnerFacts],
    *,
    exclude: Collection[int] = (),
) -> Choice | None:
    """The rule and partner that get ``lead``, or ``None`` when no rule finds a partner
    with room. ``rules`` in priority order; ``exclude``: partners already offered it."""
    for rule in rules:
        if not rule_fits(rule, lead):
            continue
        candidates = [
            partner
            for partner in partners
            if partner.id not in exclude
            and partner.capacity > 0
            and partner.open_leads < partner.capacity
            and covers(rule, lead, partner)
        ]
        if candidates:
            best = min(
                candidates,
                key=lambda p: (
                    load(p),
                    p.last_offered_at is not None,
                    p.last_offered_at or datetime.min,
                    p.id,
                ),
            )
            return Choice(rule.id, best.id)
    return None
