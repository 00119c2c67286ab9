"""Lead distribution figures (RULEBOOK §11) as pure functions on plain values: acceptance
rate, median time to accept and conversion to a won deal, per partner and in all."""

from collections import defaultdict
from collections.abc import Iterable
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
class AcceptedLead:
    """A lead a partner accepted, and whether that partner has since won a deal on it."""

    partner_id: int
    won: bool


def _rate(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.001"), ROUND_HALF_UP)


def _figures(offers: list[OfferRow], leads: list[AcceptedLead]) -> dict:
    accepted = [offer for offer in offers if offer.accepted and offer.answered_at]
    hours = [(offer.answered_at - offer.offered_at).total_seconds() / 3600 for offer in accepted]
    won = sum(1 for lead in leads if lead.won)
    return {
        "offers": len(offers),
        "accepted": len(accepted),
        "acceptance_rate": _rate(len(accepted), len(offers)),
        "median_hours_to_accept": (
            Decimal(str(median(hours))).quantize(Decimal("0.1"), ROUND_HALF_UP) if hours else None
        ),
        "leads_accepted": len(leads),
        "leads_won": won,
        "conversion_rate": _rate(won, len(leads)),
    }


def lead_figures(
    offers: Iterable[OfferRow], leads: Iterable[AcceptedLead]
) -> tuple[dict, dict[int, dict]]:
    """The figures in all, and per partner (only partners with an offer or a lead).

    Acceptance rate = accepted / answered offers (declined and pulled-back ones count as not
    accepted; offers still awaiting an answer or withdrawn by a manager are not passed in).
    Median time to accept is over the accepted offers, in hours. Conversion = accepted
    leads on which the partner won a deal / accepted leads."""
    offers, leads = list(offers), list(leads)
    offers_of: dict[int, list[OfferRow]] = defaultdict(list)
    leads_of: dict[int, list[AcceptedLead]] = defaultdict(list)
    for offer in offers:
        offers_of[offer.partner_id].append(offer)
    for lead in leads:
        leads_of[lead.partner_id].append(lead)
    per_partner = {
        partner_id: _figures(offers_of.get(partner_id, []), leads_of.get(partner_id, []))
        for partner_id in sorted(set(offers_of) | set(leads_of))
    }
    return _figures(offers, leads), per_partner
