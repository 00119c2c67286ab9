"""Contributions (RULEBOOK §6): references and community work a partner submits; an
approved one earns its bonus, owed at once.
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from partners.models import Partner, User
from prm.audit import audited
from prm.deferred_text import text_stored, text_value

from ..models import Contribution, ContributionKind, ContributionStatus, EntryKind
from .common import IncentiveError
from .ledger import _record_owed, version_earning


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
        code = "bonus_reference" if contribution.kind == "reference" else "bonus_community"
        version = version_earning(program, timezone.localdate())
        _record_owed(
            partner=contribution.partner,
            kind=EntryKind.BONUS,
            code=code,
            description=_contribution_described(contribution),
            amount=Decimal(version.rules["incentives"][code]),
            source=contribution,
            key=f"contribution:{contribution.pk}",
            by=by,
            reason="Contribution approved",
            version=version,
        )
    return contribution


def _contribution_described(contribution: Contribution) -> dict:
    """The bonus's description: the contribution's kind (in the reader's language) and its
    title (as the partner wrote it)."""
    source = gettext_noop("%(kind)s: %(title)s")
    params = {
        "kind": text_value(ContributionKind(contribution.kind).label),
        "title": contribution.title,
    }
    return {"description": text_stored(source, params), "message": source, "params": params}
