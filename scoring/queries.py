"""Reads that combine partners, deals and enablement: tier standing and the home pages."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Sum,
)
from django.http import Http404
from django.utils import timezone

from deals.models import Deal, DealStatus, DealType
from deals.queries import (
    OPEN_STATUSES,
    day_span,
    pipeline_by_partner,
    revenue_by_partner,
    strategic_wins_by_partner,
)
from enablement.models import AutoEvent, OnboardingTask
from enablement.queries import certified_rep_counts
from incentives.models import MdfRequest
from partners.models import Lead, LeadOffer, LeadStatus, Partner, PartnerStatus, Program
from prm.quarters import Quarter, trailing_twelve_months

from . import lead_rules, qbr_rules
from .rules import PartnerFacts, ScoringWeights, TierProgress, TierRequirement, tier_progress

if TYPE_CHECKING:
    from .models import Qbr, QuarterClose

# Engagement of a partner with no login day, training or event in the period.
NO_ENGAGEMENT = {"login_days": 0, "trainings": 0, "events": 0}


def tier_requirements(program: Program, tiers: Iterable | None = None) -> list[TierRequirement]:
    """The program's tiers as plain values; uses ``program.tiers`` (prefetch it) unless the
    caller passes them."""
    return [
        TierRequirement(
            slug=tier.slug,
            name=tier.name,
            rank=tier.rank,
            revenue_floor=tier.revenue_floor,
            certified_reps_required=tier.certified_reps_required,
            open_registrations_required=tier.open_registrations_required,
            new_logos_required=tier.new_logos_required,
            strategic_wins_required=tier.strategic_wins_required,
        )
        for tier in (program.tiers.all() if tiers is None else tiers)
    ]


class PartnerRow(NamedTuple):
    """What the quarter close and the red flags need of a partner, as plain values."""

    pk: int
    name: str
    program_id: int
    tier_id: int
    annual_quota: Decimal | None
    started_on: date
    channel_manager_id: int | None
    manager_email: str | None


def active_partners(*, started_before: date | None = None) -> list[PartnerRow]:
    """Every active partner, by id: one query, no model instances (the close reads them all).

    ``started_before``: only those that started before that day. The close passes its
    quarter's last day: a partner is scored only for quarters that end after it started
    (RULEBOOK §2).
    """
    rows = (
        _active(started_before)
        .order_by("pk")
        .values_list(
            "pk",
            "name",
            "program_id",
            "tier_id",
            "annual_quota",
            "started_on",
            "channel_manager_id",
            "channel_manager__email",
        )
    )
    return [PartnerRow._make(row) for row in rows]


def active_partner_ids(*, started_before: date | None = None) -> QuerySet:
    """The ids of the active partners (as ``active_partners`` picks them), as a subquery
    for grouped reads."""
    return _active(started_before).values("pk")


def _active(started_before: date | None) -> QuerySet:
    partners = Partner.objects.filter(status=PartnerStatus.ACTIVE)
    if started_before is not None:
        partners = partners.filter(started_on__lt=started_before)
    return partners


def first_partner_started() -> date | None:
    """The day the program's first partner started (the earliest of every program, as the
    close closes them all at once); None while there is none. A prospect has not started:
    its date is only planned."""
    return (
        Partner.objects.exclude(status=PartnerStatus.PROSPECT)
        .aggregate(first=Min("started_on"))
        .get("first")
    )


def closed_quarter(label: str) -> "QuarterClose | None":
    """The close of ``label`` if it has finished (state done), with who asked for it."""
    from .models import QuarterClose

    return (
        QuarterClose.objects.filter(quarter=label, state=QuarterClose.State.DONE)
        .select_related("requested_by")
        .first()
    )


def scorecard_history(
    partner_ids: QuerySet, labels: list[str]
) -> dict[int, tuple[tuple[int, ...], tuple[bool, ...]]]:
    """Per partner, from its scorecards of ``labels`` (most recent first): the rank of the
    tier it qualified for, and whether it met the lowest tier's requirements.

    A scorecard of a quarter that ended before its partner started is no close of that
    partner's (an early close may have written one): it is left out."""
    from .models import Scorecard

    if not labels:
        return {}
    scored = Q()
    for label in labels:
        scored |= Q(quarter=label, partner__started_on__lt=Quarter.parse(label).end)
    rows = (
        Scorecard.objects.filter(scored, partner_id__in=partner_ids)
        .order_by("partner_id", "-quarter")
        .values_list("partner_id", "qualified_tier__rank", "meets_lowest")
    )
    ranks: dict[int, list[int]] = {}
    meets: dict[int, list[bool]] = {}
    for partner_id, rank, meets_lowest in rows:
        if partner_id not in ranks:
            ranks[partner_id], meets[partner_id] = [], []
        ranks[partner_id].append(rank)
        meets[partner_id].append(meets_lowest)
    return {pid: (tuple(ranks[pid]), tuple(meets[pid])) for pid in ranks}


def tiers_before_close(label: str) -> dict[int, int]:
    """The tier each partner held before the close of ``label``, from the scorecards a
    previous run of that close wrote (empty at the first run)."""
    from .models import Scorecard

    return dict(Scorecard.objects.filter(quarter=label).values_list("partner_id", "tier_before_id"))


def partner_facts(
    partner_ids: Iterable[int], as_of: date, *, certified_reps: dict[int, int] | None = None
) -> dict[int, PartnerFacts]:
    """Every partner's tier facts on ``as_of`` with a fixed number of grouped queries.

    ``certified_reps``: the counts on ``as_of`` when the caller already has them.
    """
    ids = list(partner_ids)
    start, end = trailing_twelve_months(as_of)
    revenue = revenue_by_partner(ids, start, end)
    reps = certified_rep_counts(ids, as_of) if certified_reps is None else certified_reps
    pipeline = pipeline_by_partner(ids, as_of)
    wins = (
        Deal.objects.filter(
            partner_id__in=ids, status=DealStatus.WON, closed_on__range=(start, end)
        )
        .values("partner_id")
        .annotate(new_logos=Count("id", filter=Q(deal_type=DealType.NEW_LOGO)))
        .order_by()
    )
    win_counts = {row["partner_id"]: row for row in wins}
    strategic = strategic_wins_by_partner(ids, start, end)
    return {
        pid: PartnerFacts(
            revenue=revenue.get(pid, Decimal("0")),
            certified_reps=reps.get(pid, 0),
            open_registrations=pipeline.get(pid, {}).get("count", 0),
            new_logos=win_counts.get(pid, {}).get("new_logos", 0),
            strategic_wins=strategic.get(pid, 0),
        )
        for pid in ids
    }


def partner_standing(partner: Partner, as_of: date) -> tuple[PartnerFacts, TierProgress]:
    """The partner's facts and its progress against its tier and the next one."""
    facts = partner_facts([partner.pk], as_of)[partner.pk]
    tiers = tier_requirements(Program.objects.prefetch_related("tiers").get(pk=partner.program_id))
    return facts, tier_progress(tiers, partner.tier.slug, facts)


def standings(partners: QuerySet[Partner], as_of: date) -> list[dict]:
    """Rows for a list of partners: facts and progress, in a fixed number of queries."""
    rows = list(partners.select_related("tier", "program"))
    facts = partner_facts([p.pk for p in rows], as_of)
    programs = {
        program.pk: tier_requirements(program)
        for program in Program.objects.filter(pk__in={p.program_id for p in rows}).prefetch_related(
            "tiers"
        )
    }
    return [
        {
            "partner": partner,
            "facts": facts[partner.pk],
            "progress": tier_progress(
                programs[partner.program_id], partner.tier.slug, facts[partner.pk]
            ),
        }
        for partner in rows
    ]


def scorecards_visible_to(user) -> QuerySet:
    from partners.queries import scope_to_user

    from .models import Scorecard

    return scope_to_user(
        Scorecard.objects.select_related("partner", "tier_before", "tier_after", "qualified_tier"),
        user,
    )


def red_flags_visible_to(user) -> QuerySet:
    from partners.models import RedFlag
    from partners.queries import scope_to_user

    return scope_to_user(RedFlag.objects.select_related("partner"), user)


def work_queue(partner_ids) -> dict[int, dict]:
    """Per partner: registrations awaiting approval (and the oldest), incentive claims and
    MDF requests awaiting a decision (and the earliest verification due), open red flags.
    Four grouped queries, whatever the number of partners."""
    from django.db.models import Min

    from incentives.models import IncentiveClaim, MdfRequest
    from partners.models import RedFlag

    queue: dict[int, dict] = {}

    def put(rows, **keys):
        for row in rows:
            entry = queue.setdefault(
                row["partner_id"],
                {
                    "pending": 0,
                    "oldest_pending": None,
                    "claims": 0,
                    "claims_due": None,
                    "mdf": 0,
                    "flags": 0,
                },
            )
            for key, column in keys.items():
                entry[key] = row[column]

    put(
        Deal.objects.filter(partner_id__in=partner_ids, status=DealStatus.PENDING)
        .values("partner_id")
        .annotate(n=Count("pk"), oldest=Min("submitted_at"))
        .order_by(),
        pending="n",
        oldest_pending="oldest",
    )
    put(
        IncentiveClaim.objects.filter(partner_id__in=partner_ids, status__in=["submitted"])
        .values("partner_id")
        .annotate(n=Count("pk"), due=Min("verify_by"))
        .order_by(),
        claims="n",
        claims_due="due",
    )
    put(
        MdfRequest.objects.filter(partner_id__in=partner_ids, status="submitted")
        .values("partner_id")
        .annotate(n=Count("pk"))
        .order_by(),
        mdf="n",
    )
    put(
        RedFlag.objects.filter(partner_id__in=partner_ids, status=RedFlag.Status.OPEN)
        .values("partner_id")
        .annotate(n=Count("pk"))
        .order_by(),
        flags="n",
    )
    return queue


# ---------------------------------------------------------------- lead distribution (§11)


def lead_figures(ids, *, start: datetime, until: datetime) -> tuple[dict, dict[int, dict]]:
    """Acceptance rate, median time to accept and conversion to a won deal (RULEBOOK §11)
    of the partners ``ids`` (``None``: all), in all and per partner: ``lead_rows``'s rows
    figured by ``lead_rules.lead_figures``. Two queries whatever the number of leads."""
    return lead_rules.lead_figures(*lead_rows(ids, start=start, until=until))


def lead_rows(
    ids, *, start: datetime, until: datetime
) -> tuple[list[lead_rules.OfferRow], list[lead_rules.LeadCounts]]:
    """What the lead figures of the partners ``ids`` (``None``: all) are made of: the
    offers made in [``start``, ``until``) and answered by ``until``, one row each; and per
    partner, the leads it accepted in that span (registered or closed since, or not) and
    how many of them it won a deal on, closed before ``until``, for the lead's customer:
    the registration it converted into, its account, an account with its registrable
    domain, or a domain-less account with its name. Two queries.

    Each way a won deal matches a lead is its own EXISTS, which PostgreSQL answers from an
    index per lead (59 ms for 5,592 accepted leads on the 2,000,000-deal book, the scan of
    the leads included). One EXISTS that OR-ed the three inside took 6.4 s for 5,427: an OR
    of joined columns cannot be driven from the indexes, so it walked every won deal of
    each partner.
    """
    answered = (LeadOffer.Answer.ACCEPTED, LeadOffer.Answer.DECLINED, LeadOffer.Answer.EXPIRED)
    offers = LeadOffer.objects.filter(
        offered_at__gte=start, offered_at__lt=until, answer__in=answered, answered_at__lt=until
    )
    leads = Lead.objects.filter(
        status__in=(LeadStatus.ACCEPTED, LeadStatus.CONVERTED, LeadStatus.CLOSED),
        accepted_at__gte=start,
        accepted_at__lt=until,
    )
    if ids is not None:
        offers = offers.filter(partner_id__in=ids)
        leads = leads.filter(partner_id__in=ids)
    won = Deal.objects.filter(status=DealStatus.WON, closed_on__lt=until.date())
    of_partner = won.filter(partner_id=OuterRef("partner_id"))
    converted = won.filter(pk=OuterRef("converted_deal_id"))
    by_account = of_partner.filter(account_id=OuterRef("account_id"))
    # "Not empty" lets PostgreSQL use the partial index on accounts' domains.
    by_domain = of_partner.filter(account__domain_key=OuterRef("domain_key")).exclude(
        account__domain_key=""
    )
    by_name = of_partner.filter(account__domain_key="", account__name_key=OuterRef("name_key"))
    counts = (
        leads.values("partner_id")
        .annotate(
            accepted=Count("pk"),
            won=Count(
                "pk",
                filter=Q(Exists(converted))
                | Q(Exists(by_account))
                | Q(Exists(by_domain))
                | Q(Exists(by_name)),
            ),
        )
        .order_by()
    )
    return (
        [
            lead_rules.OfferRow(partner_id, answer == LeadOffer.Answer.ACCEPTED, at, answered_at)
            for partner_id, answer, at, answered_at in offers.order_by().values_list(
                "partner_id", "answer", "offered_at", "answered_at"
            )
        ],
        [lead_rules.LeadCounts(row["partner_id"], row["accepted"], row["won"]) for row in counts],
    )


def pipeline_lead_counts(start: date, end: date) -> dict[int, int]:
    """The leads each partner accepted in [``start``, ``end``] that count towards its
    pipeline (RULEBOOK §2 and §11): every one it still holds as its own (open, registered
    or closed since), except those it registered as a deal that the pipeline's approved
    registrations already count (submitted in the span and approved), so that a lead and
    its registration are not counted twice. One grouped query."""
    low, high = day_span(start, end)
    not_counted = (
        Q(converted_deal__isnull=True)
        | Q(converted_deal__approved_at__isnull=True)
        | Q(converted_deal__submitted_at__lt=low)
        | Q(converted_deal__submitted_at__gte=high)
    )
    rows = (
        Lead.objects.filter(
            status__in=(LeadStatus.ACCEPTED, LeadStatus.CONVERTED, LeadStatus.CLOSED),
            accepted_at__gte=low,
            accepted_at__lt=high,
        )
        .values("partner_id")
        .annotate(n=Count("pk", filter=not_counted))
        .order_by()
    )
    return {row["partner_id"]: row["n"] for row in rows if row["n"]}


# ---------------------------------------------------------------- QBRs and business plans (§10)


def qbr_facts(
    partners: list[Partner], quarter: Quarter, *, as_of: date, now: datetime
) -> dict[int, qbr_rules.QbrFacts]:
    """Everything the QBRs of ``partners`` for ``quarter`` show, as of ``as_of``, with a
    fixed number of grouped queries whatever the number of partners.

    ``partners`` come with ``tier`` and ``program`` (select them related). The meeting
    quarter plans ahead; the quarter before it is the one reviewed. Nothing dated after
    ``as_of`` is read: not a registration, win, scorecard, certification, login, training,
    event, MDF request, campaign, plan, flag or conflict case.
    """
    from enablement.queries import engagement_counts

    ids = [p.pk for p in partners]
    reviewed = quarter.previous()
    before = reviewed.previous()
    _, until = day_span(as_of, as_of)  # the first moment after ``as_of``

    cards = _qbr_scorecards(ids, [reviewed.label, before.label], until=until)
    open_deals = _qbr_open_deals(ids, as_of=as_of, until=until)
    closed_deals = _qbr_closed_deals(ids, reviewed, as_of=as_of)
    reps = certified_rep_counts(ids, as_of)
    held = _qbr_certifications(ids, as_of=as_of)
    engagement = engagement_counts(ids, reviewed.start, min(reviewed.end, as_of))
    mdf = _qbr_mdf(ids, quarter, until=until)
    campaigns = _qbr_campaigns(ids, quarter, as_of=as_of, until=until)
    facts = partner_facts(ids, as_of, certified_reps=reps)
    programs = {
        program.pk: program
        for program in Program.objects.filter(
            pk__in={p.program_id for p in partners}
        ).prefetch_related("tiers")
    }
    requirements = {pk: tier_requirements(program) for pk, program in programs.items()}
    plans, year_revenue = _qbr_plans(partners, programs, as_of=as_of, until=until)
    flags = _qbr_flags(ids, until=until)
    conflicts = _qbr_conflicts(ids, facts, until=until)
    lead_start = timezone.make_aware(datetime.combine(reviewed.start, time.min))
    lead_until = min(
        until, timezone.make_aware(datetime.combine(reviewed.end + timedelta(days=1), time.min))
    )
    _, leads = lead_figures(ids, start=lead_start, until=lead_until)
    no_leads = lead_rules.lead_figures([], [])[0]

    result = {}
    for partner in partners:
        program = programs[partner.program_id]
        lapsed, expiring = qbr_rules.certification_watch(held[partner.pk], as_of)
        plan = plans.get(partner.pk)
        result[partner.pk] = qbr_rules.QbrFacts(
            quarter=quarter.label,
            reviewed=reviewed.label,
            before=before.label,
            as_of=as_of,
            now=now,
            maxima={
                "revenue": program.revenue_points,
                "pipeline": program.pipeline_points,
                "certification": program.certification_points,
                "satisfaction": program.satisfaction_points,
                "engagement": program.login_days_points
                + program.training_points
                + program.events_points,
            },
            scorecard=cards.get((partner.pk, reviewed.label)),
            previous_scorecard=cards.get((partner.pk, before.label)),
            open_deals=tuple(open_deals[partner.pk]),
            closed_deals=tuple(closed_deals[partner.pk]),
            certified_reps=reps.get(partner.pk, 0),
            reps_required=partner.tier.certified_reps_required,
            lapsed=tuple(lapsed),
            expiring=tuple(expiring),
            engagement=qbr_rules.Engagement(**engagement.get(partner.pk, NO_ENGAGEMENT)),
            engagement_targets=qbr_rules.Engagement(
                login_days=program.login_days_target,
                trainings=program.training_target,
                events=program.events_target,
            ),
            mdf=tuple(mdf[partner.pk]),
            campaigns=tuple(campaigns[partner.pk]),
            progress=tier_progress(
                requirements[partner.program_id], partner.tier.slug, facts[partner.pk]
            ),
            plan=qbr_rules.PlanFacts(
                fiscal_year=plan.fiscal_year,
                revenue_goal=plan.revenue_goal,
                revenue_to_date=year_revenue.get(partner.pk, Decimal("0")),
                target_accounts=tuple(plan.target_account_lines),
                planned_activities=tuple(plan.activity_lines),
            )
            if plan
            else None,
            flags=tuple(flags[partner.pk]),
            conflicts=tuple(conflicts[partner.pk]),
            until=until,
            leads=leads.get(partner.pk, no_leads),
        )
    return result


def _qbr_scorecards(
    ids: list[int], labels: list[str], *, until: datetime
) -> dict[tuple[int, str], qbr_rules.ScoreRow]:
    """The scorecards of the quarters ``labels``, by (partner id, quarter), as closed
    before ``until``."""
    from .models import Scorecard

    return {
        (row.partner_id, row.quarter): qbr_rules.ScoreRow(
            quarter=row.quarter,
            revenue=row.revenue,
            pipeline=row.pipeline,
            certification=row.certification,
            satisfaction=row.satisfaction,
            engagement=row.engagement,
            total=row.total,
            band=row.band,
            band_label=row.get_band_display(),
            csat_no_data=row.csat_no_data,
        )
        for row in Scorecard.objects.filter(
            partner_id__in=ids, quarter__in=labels, closed_at__lt=until
        ).only(
            "partner_id",
            "quarter",
            "revenue",
            "pipeline",
            "certification",
            "satisfaction",
            "engagement",
            "total",
            "band",
            "csat_no_data",
        )
    }


def _qbr_open_deals(
    ids: list[int], *, as_of: date, until: datetime
) -> dict[int, list[qbr_rules.OpenDeal]]:
    """Registrations submitted before ``until`` and still open and protected on ``as_of``."""
    open_deals = defaultdict(list)
    for row in (
        Deal.objects.filter(partner_id__in=ids, status__in=OPEN_STATUSES, submitted_at__lt=until)
        .filter(Q(expires_on__isnull=True) | Q(expires_on__gte=as_of))
        .values_list(
            "partner_id",
            "customer_name",
            "status",
            "amount_reporting",
            "expected_close",
            "expires_on",
        )
    ):
        open_deals[row[0]].append(qbr_rules.OpenDeal(*row[1:]))
    return open_deals


def _qbr_closed_deals(
    ids: list[int], reviewed: Quarter, *, as_of: date
) -> dict[int, list[qbr_rules.ClosedDeal]]:
    """Deals won or lost in the reviewed quarter, up to ``as_of``."""
    closed_deals = defaultdict(list)
    for pid, customer, status, amount, closed_amount, credit, closed_on in Deal.objects.filter(
        partner_id__in=ids,
        status__in=(DealStatus.WON, DealStatus.LOST),
        closed_on__range=(reviewed.start, min(reviewed.end, as_of)),
    ).values_list(
        "partner_id",
        "customer_name",
        "status",
        "amount_reporting",
        "closed_amount_reporting",
        "partner_credit",
        "closed_on",
    ):
        won = status == DealStatus.WON
        closed_deals[pid].append(
            qbr_rules.ClosedDeal(
                customer=customer,
                won=won,
                amount=(closed_amount if won and closed_amount is not None else amount),
                partner_credit=credit if won else None,
                closed_on=closed_on,
            )
        )
    return closed_deals


def _qbr_certifications(
    ids: list[int], *, as_of: date
) -> dict[int, list[qbr_rules.HeldCertification]]:
    """Certifications the partners' active people held on ``as_of`` or lost in the year
    before it (the QBR watches what lapsed and what is about to)."""
    from enablement.models import Certification

    held = defaultdict(list)
    for row in (
        Certification.objects.filter(
            partner_id__in=ids,
            user__is_active=True,
            user__membership__partner_id=F("partner_id"),
            issued_on__lte=as_of,
            expires_on__gt=as_of - timedelta(days=365),
        )
        .values(
            "partner_id",
            "user_id",
            "user__first_name",
            "user__last_name",
            "user__username",
            "certification_type__name",
            "issued_on",
            "expires_on",
        )
        .order_by()
    ):
        name = f"{row['user__first_name']} {row['user__last_name']}".strip()
        held[row["partner_id"]].append(
            qbr_rules.HeldCertification(
                person_id=row["user_id"],
                person=name or row["user__username"],
                certification=row["certification_type__name"],
                issued_on=row["issued_on"],
                expires_on=row["expires_on"],
            )
        )
    return held


def _qbr_mdf(
    ids: list[int], quarter: Quarter, *, until: datetime
) -> dict[int, list[qbr_rules.MdfPlan]]:
    """MDF activities running in the meeting quarter, requested before ``until``."""
    from incentives.models import MdfRequest

    mdf = defaultdict(list)
    for request in MdfRequest.objects.filter(
        partner_id__in=ids,
        starts_on__lte=quarter.end,
        ends_on__gte=quarter.start,
        submitted_at__lt=until,
    ).only(
        "partner_id",
        "title",
        "activity_type",
        "starts_on",
        "ends_on",
        "planned_cost",
        "reserved_amount",
        "expected_leads",
        "status",
    ):
        mdf[request.partner_id].append(
            qbr_rules.MdfPlan(
                title=request.title,
                activity=request.get_activity_type_display(),
                starts_on=request.starts_on,
                ends_on=request.ends_on,
                planned_cost=request.planned_cost,
                reserved=request.reserved_amount,
                expected_leads=request.expected_leads,
                status=request.status,
                status_label=request.get_status_display(),
            )
        )
    return mdf


def _qbr_campaigns(
    ids: list[int], quarter: Quarter, *, as_of: date, until: datetime
) -> dict[int, list[qbr_rules.CampaignPlan]]:
    """Co-marketing campaigns running in the meeting quarter, created before ``until``,
    each at its stage on ``as_of``."""
    from enablement.models import Campaign, CampaignStatus

    campaigns = defaultdict(list)
    stage_of = {label: value for value, label in CampaignStatus.choices}
    for campaign in Campaign.objects.filter(
        partner_id__in=ids,
        starts_on__lte=quarter.end,
        ends_on__gte=quarter.start,
        created_at__lt=until,
    ).select_related("activity"):
        stage = campaign.stage(as_of)  # the label of its stage on that day
        campaigns[campaign.partner_id].append(
            qbr_rules.CampaignPlan(
                name=campaign.name,
                activity=campaign.activity.name,
                starts_on=campaign.starts_on,
                ends_on=campaign.ends_on,
                expected_leads=campaign.expected_leads,
                stage=stage_of[stage],
                stage_label=stage,
            )
        )
    return campaigns


def _qbr_plans(
    partners: list[Partner], programs: dict[int, Program], *, as_of: date, until: datetime
) -> tuple[dict, dict[int, Decimal]]:
    """Joint business plans of the fiscal year of ``as_of`` (by partner id), and that
    year's revenue so far of the partners that have one."""
    from .models import JointBusinessPlan

    ids = [p.pk for p in partners]
    fiscal_years = {
        pk: Quarter.containing(as_of, start_month=program.fiscal_year_start_month)
        for pk, program in programs.items()
    }
    plans: dict[int, JointBusinessPlan] = {}
    if ids:
        wanted = Q()
        for pk, fiscal in fiscal_years.items():
            wanted |= Q(partner__program_id=pk, fiscal_year=fiscal.year)
        plans = {
            plan.partner_id: plan
            for plan in JointBusinessPlan.objects.filter(
                wanted, partner_id__in=ids, created_at__lt=until
            )
        }
    year_revenue: dict[int, Decimal] = {}
    for pk, fiscal in fiscal_years.items():
        members = [p.pk for p in partners if p.program_id == pk and p.pk in plans]
        if members:
            year_start = Quarter(fiscal.year, 1, fiscal.start_month).start
            year_revenue.update(revenue_by_partner(members, year_start, as_of))
    return plans, year_revenue


def _qbr_flags(ids: list[int], *, until: datetime) -> dict[int, list[qbr_rules.FlagRow]]:
    """Red flags open now that were opened before ``until``."""
    from partners.models import RedFlag

    flags = defaultdict(list)
    for flag in RedFlag.objects.filter(
        partner_id__in=ids, status=RedFlag.Status.OPEN, opened_at__lt=until
    ).only("partner_id", "kind", "opened_at"):
        flags[flag.partner_id].append(
            qbr_rules.FlagRow(flag.kind, flag.get_kind_display(), flag.opened_at)
        )
    return flags


def _qbr_conflicts(
    ids: list[int], facts: dict, *, until: datetime
) -> dict[int, list[qbr_rules.ConflictRow]]:
    """Open conflict cases opened before ``until`` on either side, for each partner of
    ``facts`` involved: raised by it, or against it."""
    from deals.models import ConflictCase

    conflicts = defaultdict(list)
    for case in (
        ConflictCase.objects.filter(status=ConflictCase.Status.OPEN, opened_at__lt=until)
        .filter(Q(partner_id__in=ids) | Q(other_partner_id__in=ids))
        .select_related("account")
        .only(
            "partner_id",
            "other_partner_id",
            "scenario",
            "account__name",
            "opened_at",
            "sla_due_at",
            "escalation_step",
        )
    ):
        for pid, raised in ((case.partner_id, True), (case.other_partner_id, False)):
            if pid in facts:
                conflicts[pid].append(
                    qbr_rules.ConflictRow(
                        scenario=case.scenario,
                        label=case.get_scenario_display(),
                        account=case.account.name if case.account else "",
                        opened_at=case.opened_at,
                        sla_due_at=case.sla_due_at,
                        escalation_step=case.escalation_step,
                        escalation_label=case.get_escalation_step_display(),
                        raised_by_partner=raised,
                    )
                )
    return conflicts


def qbr_overdue(today: date) -> Q:
    """An overdue QBR: still scheduled, its day passed without it being held (or cancelled)."""
    return Q(status="scheduled", scheduled_for__lt=today)


def qbrs_with_overdue(queryset: QuerySet, today: date) -> QuerySet:
    """``queryset`` with ``overdue`` on each QBR (``qbr_overdue``), computed in the query."""
    return queryset.annotate(
        overdue=ExpressionWrapper(qbr_overdue(today), output_field=BooleanField())
    )


def qbrs_visible_to(user) -> QuerySet:
    """QBRs in the user's scope. A partner's people see only those shared with them."""
    from partners.queries import scope_to_user
    from prm.roles import Role, role_of

    from .models import Qbr, QbrActionItem

    queryset = scope_to_user(
        Qbr.objects.select_related(
            "partner__tier", "partner__program", "partner__channel_manager", "held_by"
        ),
        user,
    ).prefetch_related(
        Prefetch("action_items", queryset=QbrActionItem.objects.select_related("owner"))
    )
    if role_of(user) == Role.PARTNER:
        queryset = queryset.filter(shared_with_partner=True)
    return queryset


def qbr_for_user(user, qbr_id) -> "Qbr":
    """The QBR if the user may see it; 404 otherwise."""
    from .models import Qbr

    try:
        return qbrs_visible_to(user).get(pk=int(qbr_id))
    except (Qbr.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such QBR.") from exc


def business_plans_visible_to(user) -> QuerySet:
    from partners.queries import scope_to_user

    from .models import JointBusinessPlan

    return scope_to_user(
        JointBusinessPlan.objects.select_related("partner__program", "updated_by"), user
    ).order_by("-fiscal_year", "partner_id")


def business_plan_progress(plans: list, as_of: date) -> dict[int, dict]:
    """Goal against revenue so far for each plan (by plan id), in one grouped query however
    many plans and years: a past fiscal year counts the whole year, the current one up to
    ``as_of``. ``plans`` come with ``partner__program``."""
    spans = {}
    for plan in plans:
        start_month = plan.partner.program.fiscal_year_start_month
        first = Quarter(plan.fiscal_year, 1, start_month).start
        last = min(Quarter(plan.fiscal_year, 4, start_month).end, as_of)
        spans[plan.pk] = (first, last)
    live = {span for span in spans.values() if span[0] <= span[1]}
    keys = {span: f"span{index}" for index, span in enumerate(sorted(live))}
    revenue: dict[tuple[int, str], Decimal] = {}
    if keys:
        rows = (
            Deal.objects.filter(
                partner_id__in={plan.partner_id for plan in plans},
                status=DealStatus.WON,
                closed_on__range=(min(s[0] for s in live), max(s[1] for s in live)),
            )
            .values("partner_id")
            .annotate(
                **{
                    key: Sum("partner_credit", filter=Q(closed_on__range=span))
                    for span, key in keys.items()
                }
            )
            .order_by()
        )
        revenue = {(row["partner_id"], key): row[key] for row in rows for key in keys.values()}
    result = {}
    for plan in plans:
        key = keys.get(spans[plan.pk])
        result[plan.pk] = qbr_rules.plan_progress(
            qbr_rules.PlanFacts(
                fiscal_year=plan.fiscal_year,
                revenue_goal=plan.revenue_goal,
                revenue_to_date=revenue.get((plan.partner_id, key)) or Decimal("0"),
                target_accounts=tuple(plan.target_account_lines),
                planned_activities=tuple(plan.activity_lines),
            )
        )
    return result


def last_quarter_close() -> "QuarterClose | None":
    """The close of the latest quarter closed or being closed (by the quarter's unique index)."""
    from .models import QuarterClose

    return QuarterClose.objects.order_by("-quarter").first()


def failed_quarter_closes() -> int:
    """Closes whose last run failed (a row per quarter: a small table)."""
    from .models import QuarterClose

    return QuarterClose.objects.filter(state=QuarterClose.State.FAILED).count()


def partners_without_onboarding_plan() -> QuerySet[Partner]:
    """Partners in the program (not prospects, not exited) that have no onboarding plan:
    those that started before plans were kept."""
    return (
        Partner.objects.exclude(status__in=[PartnerStatus.PROSPECT, PartnerStatus.EXITED])
        .filter(~Exists(OnboardingTask.objects.filter(partner=OuterRef("pk"))))
        .order_by("pk")
    )


def onboarding_proofs(partner_ids: Iterable[int]) -> dict[int, dict[str, tuple[date, str]]]:
    """For each partner, the first of the facts that prove onboarding steps recorded
    outside enablement, by ``AutoEvent``: its first registration (not rejected), its first
    MDF activity and its first QBR held. Three grouped queries, whatever the number."""
    from .models import Qbr, QbrStatus

    ids = list(partner_ids)
    found: dict[int, dict[str, tuple[date, str]]] = defaultdict(dict)
    for partner_id, first in (
        Deal.objects.filter(partner_id__in=ids)
        .exclude(status=DealStatus.REJECTED)
        .values_list("partner_id")
        .annotate(first=Min("submitted_at"))
    ):
        found[partner_id][AutoEvent.FIRST_REGISTRATION] = (
            timezone.localdate(first),
            "First deal registration",
        )
    for partner_id, first in (
        MdfRequest.objects.filter(partner_id__in=ids)
        .values_list("partner_id")
        .annotate(first=Min("submitted_at"))
    ):
        found[partner_id][AutoEvent.FIRST_CAMPAIGN] = (timezone.localdate(first), "MDF activity")
    for partner_id, first in (
        Qbr.objects.filter(partner_id__in=ids, status=QbrStatus.HELD)
        .values_list("partner_id")
        .annotate(first=Min("held_on"))
    ):
        found[partner_id][AutoEvent.FIRST_QBR] = (first, "First QBR held")
    return dict(found)


# ---------------------------------------------------------------- the partner 360 page

# Rows each section of the partner 360 page shows; each links to the full admin list.
SECTION_ROWS = 8
CONTACT_ROWS = 25
NOTE_ROWS = 50


def partner_360(partner: Partner, *, rows: int = SECTION_ROWS) -> dict[str, list]:
    """Everything a channel manager reads about one partner, one bounded query per
    section, so the page costs the same whatever the partner's history: its people, tier
    history, scorecards, open and recent registrations, ledger, incentive claims, MDF
    requests, red flags, conflict cases (raised by it or against it), business reviews,
    business plans and the managers' internal notes (newest first)."""
    from deals.models import ConflictCase
    from incentives.models import IncentiveClaim, LedgerEntry, MdfRequest
    from partners.models import ManagerNote, PartnerUser, RedFlag, TierChange

    from .models import DisputeStatus, JointBusinessPlan, Qbr, Scorecard, ScorecardDispute

    open_statuses = [DealStatus.PENDING, DealStatus.APPROVED]
    return {
        # Scorecard disputes waiting for an answer, the longest waiting first.
        "open_disputes": list(
            ScorecardDispute.objects.filter(scorecard__partner=partner, status=DisputeStatus.OPEN)
            .select_related("scorecard", "raised_by")
            .order_by("raised_at", "pk")[:rows]
        ),
        "contacts": list(
            PartnerUser.objects.filter(partner=partner)
            .select_related("user")
            .order_by("role", "user__last_name", "user__first_name", "pk")[:CONTACT_ROWS]
        ),
        "tier_history": list(
            TierChange.objects.filter(partner=partner)
            .select_related("from_tier", "to_tier", "changed_by")
            .order_by("-changed_at", "-pk")[:rows]
        ),
        "scorecards": list(
            Scorecard.objects.filter(partner=partner)
            .select_related("tier_before", "tier_after")
            .order_by("-quarter")[:rows]
        ),
        # Held for review, then pending (awaiting a decision), then approved; oldest first.
        "open_deals": list(
            Deal.objects.filter(partner=partner, status__in=open_statuses)
            .order_by("-needs_review", "-status", "submitted_at")
            .only(
                "pk",
                "customer_name",
                "customer_domain",
                "amount",
                "currency",
                "amount_reporting",
                "status",
                "needs_review",
                "submitted_at",
                "approved_at",
                "expires_on",
                "direct_conflict",
            )[:rows]
        ),
        "recent_deals": list(
            Deal.objects.filter(partner=partner)
            .exclude(status__in=open_statuses)
            .order_by("-updated_at", "-pk")
            .only(
                "pk",
                "customer_name",
                "amount",
                "currency",
                "amount_reporting",
                "status",
                "reason",
                "closed_on",
                "closed_amount",
                "closed_amount_reporting",
                "partner_credit",
                "updated_at",
            )[:rows]
        ),
        "ledger": list(
            LedgerEntry.objects.filter(partner=partner)
            .order_by("-earned_on", "-pk")
            .only(
                "pk",
                "kind",
                "description",
                "amount",
                "currency",
                "partner_amount",
                "partner_currency",
                "status",
                "earned_on",
            )[:rows]
        ),
        "claims": list(
            IncentiveClaim.objects.filter(partner=partner)
            .order_by("-submitted_at", "-pk")
            .only("pk", "amount", "status", "submitted_at", "verify_by")[:rows]
        ),
        "mdf": list(
            MdfRequest.objects.filter(partner=partner)
            .order_by("-submitted_at", "-pk")
            .only(
                "pk",
                "title",
                "activity_type",
                "planned_cost",
                "status",
                "starts_on",
                "submitted_at",
            )[:rows]
        ),
        "flags": list(
            RedFlag.objects.filter(partner=partner)
            .order_by(F("resolved_at").asc(nulls_first=True), "-opened_at")
            .only("pk", "kind", "status", "opened_at", "resolved_at")[:rows]
        ),
        "conflicts": list(
            ConflictCase.objects.filter(Q(partner=partner) | Q(other_partner=partner))
            .select_related("account", "partner", "other_partner")
            .order_by("status", "sla_due_at")[:rows]  # open ones first
        ),
        "qbrs": list(
            Qbr.objects.filter(partner=partner)
            .order_by("-scheduled_for", "-pk")
            .only("pk", "quarter", "status", "scheduled_for", "held_on", "shared_with_partner")[
                :rows
            ]
        ),
        "plans": list(
            JointBusinessPlan.objects.filter(partner=partner)
            .order_by("-fiscal_year")
            .only("pk", "fiscal_year", "revenue_goal", "updated_at")[:rows]
        ),
        "notes": list(
            ManagerNote.objects.filter(partner=partner)
            .select_related("author")
            .order_by("-created_at", "-pk")[:NOTE_ROWS]
        ),
    }


def scorecard_weights(card, program_weights: ScoringWeights) -> ScoringWeights:
    """The weights ``card`` was decided with: its program version's (RULEBOOK §12), else
    (a scorecard from before versions were kept) ``program_weights``, the program's now.
    Select ``version`` with the cards."""
    from .version_rules import program_rules

    if card.version_id is None:
        return program_weights
    return program_rules(card.version.rules).weights


def scorecard_explanation(card, weights, currency: str) -> list[dict]:
    """``card``'s dimensions explained in the active language (``rules.explain_scorecard``)
    with ``weights``, its program's, and its amounts written in ``currency``."""
    from prm.money import format_money

    from .rules import DIMENSIONS, explain_scorecard, explanation_shown

    return explanation_shown(
        explain_scorecard(
            card.inputs,
            {key: getattr(card, key) for key in DIMENSIONS},
            weights,
            money=lambda amount: format_money(amount, currency),
        )
    )


def scorecard_disputes(cards) -> dict[int, list]:
    """The disputes of ``cards``, newest first, by scorecard id (one query)."""
    from .models import ScorecardDispute

    found = defaultdict(list)
    for dispute in ScorecardDispute.objects.filter(scorecard__in=cards).select_related(
        "raised_by", "answered_by"
    ):
        found[dispute.scorecard_id].append(dispute)
    return found
