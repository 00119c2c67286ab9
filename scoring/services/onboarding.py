"""Onboarding plans for partners that started before plans were kept.

Here, at the top of the stack, because the facts that prove some steps are recorded by
higher apps than enablement (a first registration in deals, a first MDF activity in
incentives, a first QBR here): they are gathered set-wise and handed down as plain facts.
"""

from dataclasses import dataclass, field

from enablement.services import Proof, onboarding_plan_backfill
from partners.models import Partner

from ..queries import onboarding_proofs, partners_without_onboarding_plan


@dataclass
class Backfill:
    partners: list[Partner] = field(default_factory=list)
    steps_created: int = 0
    steps_completed: int = 0


def onboarding_plans_backfill(*, dry_run: bool = False) -> Backfill:
    """Give every partner in the program that has no onboarding plan its plan, due from
    its start date, with the steps its data already proves completed (idempotent: a
    partner that has a plan is left alone, so a second run creates nothing). ``dry_run``
    only lists the partners. Each partner's plan is written in its own transaction."""
    result = Backfill(partners=list(partners_without_onboarding_plan()))
    if dry_run or not result.partners:
        return result
    proofs = onboarding_proofs(p.pk for p in result.partners)
    for partner in result.partners:
        events = {
            event: Proof(on, note) for event, (on, note) in proofs.get(partner.pk, {}).items()
        }
        created, completed = onboarding_plan_backfill(partner=partner, events=events)
        result.steps_created += created
        result.steps_completed += completed
    return result
