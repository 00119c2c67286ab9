"""Lead distribution figures (RULEBOOK §11) as pure functions on plain values: acceptance
rate, median time to accept and conversion to a won deal, per partner and in all."""

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from statistics import median


@dataclass(frozen=True)
class OfferRow:
    """One answered offer: accepted, declined, or pulled back unanswered."""

    partner_id: int
    accepted: bool
    offered_at: datetime
    answered_at: datetime | None


@dataclass(frozen=True)
class LeadCounts:
    """The leads one partner accepted, and on how many of them it has since won a deal."""

    partner_id: int
    accepted: int
    won: int


def _rate(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.001"), ROUND_HALF_UP)


def _figures(offers: list[OfferRow], leads: list[LeadCounts]) -> dict:
    accepted = [offer for offer in offers if offer.accepted and offer.answered_at]
    hours = [(offer.answered_at - offer.offered_at).total_seconds() / 3600 for offer in accepted]
    taken = sum(counts.accepted for counts in leads)
    won = sum(counts.won for counts in leads)
    return {
        "offers": len(offers),
        "accepted": len(accepted),
        "acceptance_rate": _rate(len(accepted), len(offers)),
        "median_hours_to_accept": (
            Decimal(str(median(hours))).quantize(Decimal("0.1"), ROUND_HALF_UP) if hours else None
        ),
        "leads_accepted": taken,
        "leads_won": won,
        "conversion_rate": _rate(won, taken),
    }


def lead_figures(
    offers: Iterable[OfferRow],
    leads: Iterable[LeadCounts],
    *,
    partners: Collection[int] | None = None,
) -> tuple[dict, dict[int, dict]]:
    """The figures in all, and per partner: each partner with an offer or a lead, or only
    those of ``partners`` when given (figuring thousands of partners to show ten is
    wasted work).

    Acceptance rate = accepted / answered offers (declined and pulled-back ones count as not
    accepted; offers still awaiting an answer or withdrawn by a manager are not passed in).
    Median time to accept is over the accepted offers, in hours. Conversion = accepted
    leads on which the partner won a deal / accepted leads."""
    offers, leads = list(offers), list(leads)
    offers_of: dict[int, list[OfferRow]] = defaultdict(list)
    leads_of: dict[int, list[LeadCounts]] = defaultdict(list)
    for offer in offers:
        offers_of[offer.partner_id].append(offer)
    for counts in leads:
        leads_of[counts.partner_id].append(counts)
    shown = set(offers_of) | set(leads_of) if partners is None else set(partners)
    per_partner = {
        partner_id: _figures(offers_of.get(partner_id, []), leads_of.get(partner_id, []))
        for partner_id in sorted(shown)
    }
    return _figures(offers, leads), per_partner


def busiest(offers: Iterable[OfferRow], leads: Iterable[LeadCounts], *, limit: int) -> list[int]:
    """The ``limit`` partners offered the most leads (then those that accepted the most,
    then by id), busiest first."""
    offered: Counter[int] = Counter(offer.partner_id for offer in offers)
    taken: Counter[int] = Counter()
    for counts in leads:
        taken[counts.partner_id] += counts.accepted
    return sorted(set(offered) | set(taken), key=lambda pk: (-offered[pk], -taken[pk], pk))[:limit]
