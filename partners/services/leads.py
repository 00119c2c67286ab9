"""Lead distribution (RULEBOOK §11): routing a lead to a partner, its answer, the pullback
of unanswered offers and the return to the channel manager.

A lead is held by one partner at a time (``Lead.partner``): every change takes the lead's
row lock first, and the database keeps at most one pending offer per lead. Choosing a
partner also locks that partner's row and counts its open leads again under the lock, so
two leads routed at once cannot push a partner past its capacity.
"""

from collections.abc import Collection
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from prm.mail import mail_on_commit
from prm.roles import Role

from .. import rules, signals
from ..models import (
    DeclineReason,
    Lead,
    LeadCloseReason,
    LeadOffer,
    LeadStatus,
    NoticeKind,
    Partner,
    PartnerStatus,
    RoutingRule,
    User,
)
from ..queries import default_program
from . import notice_send

# What takes a place of a partner's tier capacity: a converted or closed lead frees it.
OPEN_LEAD_STATUSES = (LeadStatus.OFFERED, LeadStatus.ACCEPTED)
NOTE_MAX = 1000  # the words a partner gives for declining or closing a lead


class LeadAnswerRefused(ValidationError):
    """The lead cannot be answered now (pulled back, already answered, time is up): a 409."""


# ---------------------------------------------------------------- facts for the rules


def _lead_facts(lead: Lead) -> rules.LeadFacts:
    return rules.LeadFacts(
        country=lead.country.strip().upper(),
        region=lead.region,
        specialty=lead.specialty.strip().lower(),
        language=lead.language.strip().lower(),
    )


def _rule_facts() -> list[rules.RuleFacts]:
    """Every active rule, in priority order, with its tiers: two queries."""
    found = RoutingRule.objects.filter(is_active=True).prefetch_related("tiers")
    return [
        rules.RuleFacts(
            id=rule.pk,
            program_id=rule.program_id,
            countries=rules.codes(rule.countries, upper=True),
            region=rule.region,
            specialty=rule.specialty.strip().lower(),
            language=rule.language.strip().lower(),
            match_location=rule.match_location,
            match_specialty=rule.match_specialty,
            match_language=rule.match_language,
            tier_ids=frozenset(tier.pk for tier in rule.tiers.all()),
        )
        for rule in found.order_by("priority", "id")
    ]


def _partner_facts(partner_ids: Collection[int] | None = None) -> list[rules.PartnerFacts]:
    """The partners that may take leads (active, agreement signed), each with its open leads
    and its last offer: one query."""
    partners = Partner.objects.filter(
        status=PartnerStatus.ACTIVE, agreement_signed_on__isnull=False
    )
    if partner_ids is not None:
        partners = partners.filter(pk__in=partner_ids)
    rows = partners.annotate(
        open_leads=Count("leads", filter=Q(leads__status__in=OPEN_LEAD_STATUSES), distinct=True),
        last_offered_at=Max("lead_offers__offered_at"),
    ).values(
        "pk",
        "program_id",
        "tier_id",
        "tier__lead_capacity",
        "open_leads",
        "last_offered_at",
        "region",
        "lead_countries",
        "lead_specialties",
        "lead_languages",
    )
    return [
        rules.PartnerFacts(
            id=row["pk"],
            program_id=row["program_id"],
            tier_id=row["tier_id"],
            capacity=row["tier__lead_capacity"],
            open_leads=row["open_leads"],
            last_offered_at=row["last_offered_at"],
            region=row["region"],
            countries=rules.codes(row["lead_countries"], upper=True),
            specialties=rules.codes(row["lead_specialties"]),
            languages=rules.codes(row["lead_languages"]),
        )
        for row in rows
    ]


# ---------------------------------------------------------------- offering


def _locked(lead: Lead) -> Lead:
    return Lead.objects.select_for_update(of=("self",)).get(pk=lead.pk)


def _open_leads_of(partner_id: int) -> int:
    return Lead.objects.filter(partner_id=partner_id, status__in=OPEN_LEAD_STATUSES).count()


def _offer(
    lead: Lead,
    partner: Partner,
    *,
    now: datetime,
    kind: str,
    rule_id: int | None = None,
    by: User | None = None,
) -> LeadOffer:
    """Offer the locked ``lead`` to ``partner``: the offer, the lead's holder and deadline,
    the partner's notice and the ``lead.assigned`` event."""
    expires_at = now + timedelta(hours=partner.program.lead_answer_hours)
    offer = LeadOffer.objects.create(
        lead=lead,
        partner=partner,
        kind=kind,
        rule_id=rule_id,
        offered_by=by,
        offered_at=now,
        expires_at=expires_at,
    )
    lead.partner = partner
    lead.status = LeadStatus.OFFERED
    lead.offer_expires_at = expires_at
    lead.returned_at = None
    if kind == LeadOffer.Kind.RULE:
        lead.rule_offers += 1
    lead.save(update_fields=["partner", "status", "offer_expires_at", "returned_at", "rule_offers"])
    notice_send(
        partner=partner,
        kind=NoticeKind.LEADS,
        message=gettext_noop(
            "A new lead for you: %(company)s. Accept or decline it within %(hours)s hours."
        ),
        params={"company": lead.company_name, "hours": partner.program.lead_answer_hours},
        link=reverse("portal-leads"),
        email_subject=gettext_noop("A new lead: %(company)s"),
    )
    signals.lead_assigned.send(sender=Lead, leads=[lead])
    return offer


def _offer_by_rules(lead: Lead, *, now: datetime) -> LeadOffer | None:
    """Offer the locked, unheld ``lead`` to the next match, or return it to the manager
    when it has had its offers or nobody matches."""
    program = default_program()
    if lead.rule_offers >= program.lead_max_offers:
        _return(
            lead,
            now=now,
            why=gettext("it was offered %(count)d times") % {"count": lead.rule_offers},
        )
        return None
    offered = set(lead.offers.values_list("partner_id", flat=True))
    lead_facts = _lead_facts(lead)
    rule_facts = _rule_facts()
    partners = _partner_facts()
    while True:
        choice = rules.choose_partner(lead_facts, rule_facts, partners, exclude=offered)
        if choice is None:
            _return(lead, now=now, why=gettext("no partner matched with room"))
            return None
        # Under the partner's lock its count is exact: another lead routed at the same
        # moment may have taken its last place, and then the next match is tried.
        partner = (
            Partner.objects.select_for_update(of=("self",))
            .select_related("program", "tier")
            .get(pk=choice.partner_id)
        )
        if _open_leads_of(partner.pk) < partner.tier.lead_capacity:
            return _offer(lead, partner, now=now, kind=LeadOffer.Kind.RULE, rule_id=choice.rule_id)
        offered.add(partner.pk)


def _return(lead: Lead, *, now: datetime, why: str, last_partner: Partner | None = None) -> None:
    """Back to the channel managers: the queue shows it, and the manager of the partner that
    last had it (or, without one, the channel chiefs) is told by e-mail."""
    lead.partner = None
    lead.status = LeadStatus.RETURNED
    lead.offer_expires_at = None
    lead.returned_at = now
    lead.save(update_fields=["partner", "status", "offer_expires_at", "returned_at"])
    if last_partner is None:
        last = (
            lead.offers.select_related("partner__channel_manager").order_by("-offered_at").first()
        )
        last_partner = last.partner if last else None
    manager = last_partner.channel_manager if last_partner else None
    if manager is not None and manager.is_active and manager.email:
        recipients = [manager.email]
    else:
        recipients = list(
            User.objects.filter(role=Role.CHANNEL_CHIEF, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    subject = gettext("A lead came back to you: %(company)s") % {"company": lead.company_name}
    body = gettext(
        "The lead %(company)s returned to the channel managers' queue (%(why)s). "
        "Pass it on from the lead queue in the admin."
    ) % {"company": lead.company_name, "why": why}
    mail_on_commit(subject, body, recipients)


def _close_pending(
    lead: Lead, *, answer: str, now: datetime, by: User | None = None
) -> LeadOffer | None:
    offer = lead.offers.filter(answer=LeadOffer.Answer.PENDING).select_related("partner").first()
    if offer is not None:
        offer.answer = answer
        offer.answered_at = now
        offer.answered_by = by
        offer.save(update_fields=["answer", "answered_at", "answered_by"])
    return offer


@transaction.atomic
def lead_route(*, lead: Lead, now: datetime | None = None) -> Lead:
    """Send a lead that no partner holds (new, or returned) to be routed by the rules, with
    a fresh count of offers. A lead a partner holds is refused: reassign it instead."""
    now = now or timezone.now()
    lead = _locked(lead)
    if lead.status not in (LeadStatus.NEW, LeadStatus.RETURNED):
        raise ValidationError(
            gettext("%(company)s is already with a partner; reassign it instead.")
            % {"company": lead.company_name}
        )
    lead.rule_offers = 0
    _offer_by_rules(lead, now=now)
    return lead


@transaction.atomic
def lead_reassign(*, lead: Lead, partner: Partner, by: User, now: datetime | None = None) -> Lead:
    """A manager offers ``lead`` to ``partner`` themselves, whatever its state: a pending
    offer to another partner is withdrawn (an accepted lead leaves the partner that held
    it). The partner answers within the window as for any offer; if it declines or lets
    the time pass, the lead comes back to the managers rather than to the rules. The
    caller has checked that ``partner`` is ``by``'s to write."""
    now = now or timezone.now()
    lead = _locked(lead)
    partner = Partner.objects.select_related("program").get(pk=partner.pk)
    if partner.status != PartnerStatus.ACTIVE or partner.agreement_signed_on is None:
        raise ValidationError(
            gettext("%(partner)s cannot take leads: it is not active with a signed agreement.")
            % {"partner": partner.name}
        )
    if lead.status in (LeadStatus.CONVERTED, LeadStatus.CLOSED):
        raise ValidationError(
            gettext("%(company)s was registered or closed by its partner: it is not offered again.")
            % {"company": lead.company_name}
        )
    if lead.partner_id == partner.pk:
        raise ValidationError(
            gettext("%(company)s is already with %(partner)s.")
            % {"company": lead.company_name, "partner": partner.name}
        )
    _close_pending(lead, answer=LeadOffer.Answer.WITHDRAWN, now=now, by=by)
    _offer(lead, partner, now=now, kind=LeadOffer.Kind.MANUAL, by=by)
    return lead


def _answerable(lead: Lead, *, partner_id: int | None, now: datetime) -> LeadOffer:
    """The pending offer of the locked ``lead`` to ``partner_id``, still within its window."""
    if lead.status != LeadStatus.OFFERED or lead.partner_id != partner_id:
        raise LeadAnswerRefused(
            gettext("This lead is no longer offered to you."), code="not_offered"
        )
    if lead.offer_expires_at <= now:
        raise LeadAnswerRefused(
            gettext("The time to answer this lead has passed."), code="answer_window_passed"
        )
    return lead.offers.get(answer=LeadOffer.Answer.PENDING)


@transaction.atomic
def lead_accept(*, lead: Lead, partner: Partner, by: User, now: datetime | None = None) -> Lead:
    """``partner`` (through ``by``, one of its people) accepts the lead offered to it: the
    lead is its own from now on, and its registrations of the customer are not refused as
    ``existing_lead``."""
    now = now or timezone.now()
    lead = _locked(lead)
    offer = _answerable(lead, partner_id=partner.pk, now=now)
    offer.answer = LeadOffer.Answer.ACCEPTED
    offer.answered_at = now
    offer.answered_by = by
    offer.save(update_fields=["answer", "answered_at", "answered_by"])
    lead.status = LeadStatus.ACCEPTED
    lead.accepted_at = now
    lead.offer_expires_at = None
    lead.save(update_fields=["status", "accepted_at", "offer_expires_at"])
    return lead


def _reason_problems(reason: str, note: str, reasons) -> dict[str, str]:
    """What is wrong with a reason from ``reasons`` (choices with an OTHER) and its note,
    by field (empty: nothing)."""
    problems = {}
    if reason not in reasons.values:
        problems["reason"] = gettext("Choose a reason from the list.")
    note = (note or "").strip()
    if reason == reasons.OTHER and not note:
        problems["note"] = gettext("Say why in a few words when the reason is “Other”.")
    if len(note) > NOTE_MAX:
        problems["note"] = gettext("Keep the note under %(count)d characters.") % {
            "count": NOTE_MAX
        }
    return problems


def decline_problems(reason: str, note: str) -> dict[str, str]:
    """What is wrong with a decline's reason and note, by field (empty: nothing)."""
    return _reason_problems(reason, note, DeclineReason)


@transaction.atomic
def lead_decline(
    *,
    lead: Lead,
    partner: Partner,
    by: User,
    reason: str,
    note: str = "",
    now: datetime | None = None,
) -> Lead:
    """``partner`` declines the lead offered to it, with a reason from ``DeclineReason``
    (``other`` needs a note). The lead is pulled back and offered to the next match, or
    returned to the managers (after a manager's own offer, or its last offer)."""
    problems = decline_problems(reason, note)
    if problems:
        raise ValidationError(problems)
    now = now or timezone.now()
    lead = _locked(lead)
    offer = _answerable(lead, partner_id=partner.pk, now=now)
    offer.answer = LeadOffer.Answer.DECLINED
    offer.answered_at = now
    offer.answered_by = by
    offer.decline_reason = reason
    offer.decline_note = (note or "").strip()
    offer.save(
        update_fields=["answer", "answered_at", "answered_by", "decline_reason", "decline_note"]
    )
    _pull_back(
        lead, offer, now=now, why=gettext("declined by %(partner)s") % {"partner": partner.name}
    )
    return lead


def _pull_back(lead: Lead, offer: LeadOffer, *, now: datetime, why: str) -> None:
    lead.partner = None
    lead.status = LeadStatus.NEW
    lead.offer_expires_at = None
    if offer.kind == LeadOffer.Kind.MANUAL:
        _return(lead, now=now, why=why, last_partner=offer.partner)
    else:
        _offer_by_rules(lead, now=now)


def leads_pull_back(*, now: datetime | None = None) -> int:
    """The beat's job: pull back every offer whose answer window has passed and offer the
    lead to the next match (or return it). Each lead in its own transaction, claimed with
    ``SKIP LOCKED`` so that two runs, or an answer being given, never collide; running
    it again finds nothing left. Returns how many were pulled back."""
    now = now or timezone.now()
    done = 0
    while True:
        with transaction.atomic():
            lead = (
                Lead.objects.select_for_update(of=("self",), skip_locked=True)
                .filter(status=LeadStatus.OFFERED, offer_expires_at__lte=now)
                .order_by("offer_expires_at", "pk")
                .first()
            )
            if lead is None:
                return done
            offer = _close_pending(lead, answer=LeadOffer.Answer.EXPIRED, now=now)
            if offer is None:  # cannot happen while the constraints hold; never loop on it
                raise RuntimeError(f"Offered lead {lead.pk} has no pending offer.")
            _pull_back(
                lead,
                offer,
                now=now,
                why=gettext("%(partner)s did not answer in time") % {"partner": offer.partner.name},
            )
            done += 1


# ---------------------------------------------------------------- after accepting


def close_problems(reason: str, note: str) -> dict[str, str]:
    """What is wrong with a closing's reason and note, by field (empty: nothing)."""
    return _reason_problems(reason, note, LeadCloseReason)


@transaction.atomic
def lead_close(
    *,
    lead: Lead,
    partner: Partner,
    by: User,
    reason: str,
    note: str = "",
    now: datetime | None = None,
) -> Lead:
    """``partner`` closes a lead it accepted and will not register, with a reason from
    ``LeadCloseReason`` (``other`` needs a note). The lead stays the partner's, in its
    history, but no longer takes a place of its capacity. Refused (``LeadAnswerRefused``)
    unless the partner holds the lead as accepted."""
    problems = close_problems(reason, note)
    if problems:
        raise ValidationError(problems)
    now = now or timezone.now()
    lead = _locked(lead)
    if lead.partner_id != partner.pk or lead.status != LeadStatus.ACCEPTED:
        raise LeadAnswerRefused(
            gettext("Only a lead you accepted and have not registered can be closed."),
            code="not_accepted",
        )
    lead.status = LeadStatus.CLOSED
    lead.close_reason = reason
    lead.close_note = (note or "").strip()
    lead.closed_at = now
    lead.closed_by = by
    lead.save(update_fields=["status", "close_reason", "close_note", "closed_at", "closed_by"])
    return lead


def lead_convert(*, partner_id: int, account, deal_id: int, at: datetime) -> int:
    """A registration by ``partner_id`` of ``account``'s customer, stored at ``at``: the
    leads of that customer the partner accepted by then become ``converted``, linked to
    the registration, and free their places. The customer is matched as the registration's
    ``existing_lead`` check matches leads (``deals.queries.customer_check``): the same
    account, else the same registrable domain, else (without one) the same name. Called
    in the registration's transaction; returns how many leads it converted."""
    same_customer = Q(account_id=account.pk) | (
        Q(domain_key=account.domain_key) if account.domain_key else Q(name_key=account.name_key)
    )
    return Lead.objects.filter(
        same_customer,
        partner_id=partner_id,
        status=LeadStatus.ACCEPTED,
        accepted_at__lte=at,
    ).update(status=LeadStatus.CONVERTED, converted_deal_id=deal_id, converted_at=at)
