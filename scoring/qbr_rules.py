"""The QBR's agenda as pure functions (RULEBOOK §10): the seven pre-filled sections, the
check-ins a tier's review cadence adds, and the meeting days of a quarter.

Plain values in (gathered set-wise by ``scoring.queries.qbr_facts``), JSON-ready dicts out:
money and points as strings with two places, dates as ISO strings, so that a stored
snapshot reads back exactly as it was written. No ORM, no clock.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext_noop

from prm.quarters import add_months

from .rules import Gap, TierProgress

CENT = Decimal("0.01")
SECTION_TITLES = {
    "scorecard": "Scorecard against last quarter",
    "pipeline": "Pipeline walk",
    "win_loss": "Wins and losses",
    "enablement": "Enablement gaps",
    "co_marketing": "Co-marketing plan",
    "growth": "Growth plan",
    "escalations": "Escalations",
}
DIMENSIONS = (
    # Stored in English with the sections; the pages translate them on display.
    ("revenue", gettext_noop("Revenue")),
    ("pipeline", gettext_noop("Pipeline")),
    ("certification", gettext_noop("Certification")),
    ("satisfaction", gettext_noop("Satisfaction")),
    ("engagement", gettext_noop("Engagement")),
)
PIPELINE_ROWS = 50  # a pipeline walk lists the first 50 open deals; the totals count all
# The win/loss table lists the 50 largest decided deals, by date; the totals count all.
WIN_LOSS_ROWS = 50


def _money(value) -> str | None:
    if value is None:
        return None
    return str(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))


_points = _money


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class ScoreRow:
    quarter: str
    revenue: Decimal
    pipeline: Decimal
    certification: Decimal
    satisfaction: Decimal
    engagement: Decimal
    total: Decimal
    band: str
    band_label: str
    csat_no_data: bool = False


@dataclass(frozen=True)
class OpenDeal:
    customer: str
    status: str  # pending or approved
    amount: Decimal
    expected_close: date
    expires_on: date | None


@dataclass(frozen=True)
class ClosedDeal:
    customer: str
    won: bool
    amount: Decimal  # the closed amount of a win, the registered amount of a loss
    partner_credit: Decimal | None
    closed_on: date


@dataclass(frozen=True)
class CertificationRow:
    person: str
    certification: str
    expires_on: date


@dataclass(frozen=True)
class HeldCertification:
    """A certification held by one of the partner's present people."""

    person_id: int
    person: str
    certification: str
    issued_on: date
    expires_on: date


def certification_watch(
    held: Iterable[HeldCertification],
    as_of: date,
    *,
    expiring_within: int = 90,
    lapsed_within: int = 365,
) -> tuple[list[CertificationRow], list[CertificationRow]]:
    """Lapsed and soon-expiring certifications, judged on each person's latest award of
    each certification: lapsed when it expired in the last ``lapsed_within`` days and was
    not renewed; expiring when it is current and ends within ``expiring_within`` days."""
    latest: dict[tuple, HeldCertification] = {}
    for cert in held:
        if cert.issued_on > as_of:
            continue
        key = (cert.person_id, cert.certification)
        if key not in latest or cert.expires_on > latest[key].expires_on:
            latest[key] = cert
    lapsed, expiring = [], []
    for cert in latest.values():
        row = CertificationRow(cert.person, cert.certification, cert.expires_on)
        if as_of - timedelta(days=lapsed_within) < cert.expires_on <= as_of:
            lapsed.append(row)
        elif as_of < cert.expires_on <= as_of + timedelta(days=expiring_within):
            expiring.append(row)
    return lapsed, expiring


@dataclass(frozen=True)
class Engagement:
    login_days: int
    trainings: int
    events: int


@dataclass(frozen=True)
class MdfPlan:
    title: str
    activity: str
    starts_on: date
    ends_on: date
    planned_cost: Decimal
    reserved: Decimal
    expected_leads: int
    status: str
    status_label: str


@dataclass(frozen=True)
class CampaignPlan:
    name: str
    activity: str
    starts_on: date
    ends_on: date
    expected_leads: int
    stage: str  # planned, running, done or cancelled, as of the day prepared
    stage_label: str


@dataclass(frozen=True)
class PlanFacts:
    fiscal_year: int
    revenue_goal: Decimal
    revenue_to_date: Decimal
    target_accounts: tuple[str, ...] = ()
    planned_activities: tuple[str, ...] = ()


@dataclass(frozen=True)
class FlagRow:
    kind: str
    label: str
    opened_at: datetime


@dataclass(frozen=True)
class ConflictRow:
    scenario: str
    label: str
    account: str
    opened_at: datetime
    sla_due_at: datetime
    escalation_step: str
    escalation_label: str
    raised_by_partner: bool  # False: the case is about the partner's own account


@dataclass(frozen=True)
class QbrFacts:
    """Everything one partner's QBR shows, as of one moment."""

    quarter: str  # the quarter the meeting is held in
    reviewed: str  # the quarter it reviews (the last one closed)
    before: str  # the quarter before that, to compare with
    as_of: date
    now: datetime
    maxima: dict[str, Decimal]  # the program's points per dimension
    scorecard: ScoreRow | None
    previous_scorecard: ScoreRow | None
    open_deals: tuple[OpenDeal, ...]
    closed_deals: tuple[ClosedDeal, ...]
    certified_reps: int
    reps_required: int
    lapsed: tuple[CertificationRow, ...]
    expiring: tuple[CertificationRow, ...]
    engagement: Engagement
    engagement_targets: Engagement
    mdf: tuple[MdfPlan, ...]
    campaigns: tuple[CampaignPlan, ...]
    progress: TierProgress
    plan: PlanFacts | None
    flags: tuple[FlagRow, ...]
    conflicts: tuple[ConflictRow, ...]
    until: datetime | None = None  # the first moment after ``as_of``
    # Lead distribution in the reviewed quarter (scoring.lead_rules), if read.
    leads: dict | None = None


# ---------------------------------------------------------------- the sections


def scorecard_section(
    current: ScoreRow | None,
    previous: ScoreRow | None,
    *,
    reviewed: str,
    before: str,
    maxima: dict[str, Decimal],
) -> dict:
    """1. The reviewed quarter's five dimensions, total and band against the quarter before."""

    def delta(now, was):
        return _points(now - was) if now is not None and was is not None else None

    dimensions = []
    for key, label in DIMENSIONS:
        now = getattr(current, key) if current else None
        was = getattr(previous, key) if previous else None
        dimensions.append(
            {
                "key": key,
                "label": label,
                "points": _points(now),
                "max": _points(maxima[key]),
                "previous": _points(was),
                "delta": delta(now, was),
            }
        )
    return {
        "quarter": reviewed,
        "previous_quarter": before,
        "available": current is not None,
        "dimensions": dimensions,
        "total": _points(current.total) if current else None,
        "previous_total": _points(previous.total) if previous else None,
        "delta": delta(current.total if current else None, previous.total if previous else None),
        "band": current.band if current else None,
        "band_label": current.band_label if current else None,
        "previous_band": previous.band if previous else None,
        "previous_band_label": previous.band_label if previous else None,
        "csat_no_data": current.csat_no_data if current else False,
    }


def pipeline_section(deals: Iterable[OpenDeal], *, as_of: date) -> dict:
    """2. Open registrations (pending, or approved and unexpired), soonest close first."""
    rows = sorted(deals, key=lambda d: (d.expected_close, -d.amount, d.customer))
    pending = [d for d in rows if d.status == "pending"]
    approved = [d for d in rows if d.status == "approved"]

    def days_left(deal: OpenDeal) -> int | None:
        if deal.status != "approved" or deal.expires_on is None:
            return None
        return max((deal.expires_on - as_of).days, 0)

    return {
        "count": len(rows),
        "amount": _money(sum((d.amount for d in rows), Decimal(0))),
        "pending": {"count": len(pending), "amount": _money(sum((d.amount for d in pending), 0))},
        "approved": {
            "count": len(approved),
            "amount": _money(sum((d.amount for d in approved), 0)),
        },
        "slipped": sum(1 for d in rows if d.expected_close < as_of),
        "expiring_30_days": sum(1 for d in approved if (days_left(d) or 0) <= 30),
        "deals": [
            {
                "customer": d.customer,
                "status": d.status,
                "amount": _money(d.amount),
                "expected_close": _day(d.expected_close),
                "slipped": d.expected_close < as_of,
                "protection_days_left": days_left(d),
                "expires_on": _day(d.expires_on),
            }
            for d in rows[:PIPELINE_ROWS]
        ],
        "more": max(len(rows) - PIPELINE_ROWS, 0),
    }


def win_rate(won: int, lost: int) -> Decimal | None:
    """Won deals over decided ones, as a fraction to three places; None when none decided."""
    if won + lost == 0:
        return None
    return (Decimal(won) / Decimal(won + lost)).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def win_loss_section(deals: Iterable[ClosedDeal], *, quarter: str) -> dict:
    """3. The deals won and lost in the reviewed quarter, with the win rate."""
    rows = sorted(deals, key=lambda d: (d.closed_on, d.customer))
    won = [d for d in rows if d.won]
    lost = [d for d in rows if not d.won]
    rate = win_rate(len(won), len(lost))
    won_amount = sum((d.amount for d in won), Decimal(0))
    largest = set(sorted(range(len(rows)), key=lambda i: -rows[i].amount)[:WIN_LOSS_ROWS])
    listed = [d for i, d in enumerate(rows) if i in largest]
    return {
        "quarter": quarter,
        "won": {
            "count": len(won),
            "amount": _money(won_amount),
            "partner_credit": _money(sum((d.partner_credit or 0 for d in won), Decimal(0))),
            "average": _money(won_amount / len(won)) if won else None,
        },
        "lost": {"count": len(lost), "amount": _money(sum((d.amount for d in lost), Decimal(0)))},
        "win_rate": str(rate) if rate is not None else None,
        "deals": [
            {
                "customer": d.customer,
                "result": "won" if d.won else "lost",
                "amount": _money(d.amount),
                "partner_credit": _money(d.partner_credit),
                "closed_on": _day(d.closed_on),
            }
            for d in listed
        ],
        "more": len(rows) - len(listed),
    }


def enablement_section(
    *,
    certified_reps: int,
    reps_required: int,
    lapsed: Iterable[CertificationRow],
    expiring: Iterable[CertificationRow],
    engagement: Engagement,
    targets: Engagement,
    quarter: str,
) -> dict:
    """4. Certified reps against the tier's requirement, lapsed and soon-expiring
    certifications, and the reviewed quarter's engagement against the scorecard's targets."""

    def rows(items):
        return [
            {
                "person": c.person,
                "certification": c.certification,
                "expires_on": _day(c.expires_on),
            }
            for c in sorted(items, key=lambda c: (c.expires_on, c.person))
        ]

    labels = {
        "login_days": gettext_noop("Portal login days"),
        "trainings": gettext_noop("Trainings"),
        "events": gettext_noop("Events"),
    }
    return {
        "quarter": quarter,
        "certified_reps": certified_reps,
        "reps_required": reps_required,
        "missing": max(reps_required - certified_reps, 0),
        "met": certified_reps >= reps_required,
        "lapsed": rows(lapsed),
        "expiring": rows(expiring),
        "engagement": [
            {
                "key": key,
                "label": label,
                "count": getattr(engagement, key),
                "target": getattr(targets, key),
                "met": getattr(engagement, key) >= getattr(targets, key),
            }
            for key, label in labels.items()
        ],
    }


LIVE_MDF = ("submitted", "approved", "claimed", "reimbursed")


def co_marketing_section(
    requests: Iterable[MdfPlan], *, quarter: str, campaigns: Iterable[CampaignPlan] = ()
) -> dict:
    """5. The quarter ahead's co-marketing: campaigns from the playbook and the MDF
    requests with their state. Rejected and cancelled requests and cancelled campaigns
    are listed but not counted in the plan's totals."""
    plays = sorted(campaigns, key=lambda c: (c.starts_on, c.name))
    live_plays = [c for c in plays if c.stage != "cancelled"]
    rows = sorted(requests, key=lambda r: (r.starts_on, r.title))
    live = [r for r in rows if r.status in LIVE_MDF]
    by_status: dict[str, dict] = {}
    for r in rows:
        entry = by_status.setdefault(r.status, {"status": r.status, "label": r.status_label})
        entry["count"] = entry.get("count", 0) + 1
    return {
        "quarter": quarter,
        "count": len(live),
        "planned_cost": _money(sum((r.planned_cost for r in live), Decimal(0))),
        "reserved": _money(sum((r.reserved for r in live), Decimal(0))),
        "expected_leads": sum(r.expected_leads for r in live),
        "by_status": list(by_status.values()),
        "campaign_count": len(live_plays),
        "campaign_leads": sum(c.expected_leads for c in live_plays),
        "campaigns": [
            {
                "name": c.name,
                "activity": c.activity,
                "starts_on": _day(c.starts_on),
                "ends_on": _day(c.ends_on),
                "expected_leads": c.expected_leads,
                "stage": c.stage,
                "stage_label": c.stage_label,
            }
            for c in plays
        ],
        "requests": [
            {
                "title": r.title,
                "activity": r.activity,
                "starts_on": _day(r.starts_on),
                "ends_on": _day(r.ends_on),
                "planned_cost": _money(r.planned_cost),
                "reserved": _money(r.reserved),
                "expected_leads": r.expected_leads,
                "status": r.status,
                "status_label": r.status_label,
            }
            for r in rows
        ],
    }


def _gap(gap: Gap) -> dict:
    def shown(value):
        return _money(value) if gap.is_money else int(value)

    return {
        "key": gap.key,
        "label": gap.label,
        "have": shown(gap.have),
        "need": shown(gap.need),
        "missing": shown(gap.missing),
        "met": gap.met,
        "percent": gap.percent,
        "is_money": gap.is_money,
    }


def plan_progress(plan: PlanFacts) -> dict:
    """A joint business plan's goal against the revenue of its fiscal year so far."""
    goal, done = plan.revenue_goal, plan.revenue_to_date
    percent = 100 if not goal else int(min(Decimal(100), done * 100 / goal))
    return {
        "fiscal_year": plan.fiscal_year,
        "revenue_goal": _money(goal),
        "revenue_to_date": _money(done),
        "remaining": _money(max(goal - done, Decimal(0))),
        "percent": percent,
        "target_accounts": list(plan.target_accounts),
        "planned_activities": list(plan.planned_activities),
    }


def growth_section(progress: TierProgress, plan: PlanFacts | None) -> dict:
    """6. What the next tier asks for and what is missing; what keeping the current tier
    asks for, when something is; and the joint business plan's progress."""
    return {
        "tier": progress.current.name,
        "qualified_tier": progress.qualified.name,
        "meets_current": progress.meets_current,
        "current_gaps": [_gap(g) for g in progress.current_requirements if not g.met],
        "next_tier": progress.next.name if progress.next else None,
        "ready_for_next": progress.ready_for_next,
        "requirements": [_gap(g) for g in progress.next_requirements],
        "plan": plan_progress(plan) if plan else None,
    }


def escalations_section(
    flags: Iterable[FlagRow], conflicts: Iterable[ConflictRow], *, now: datetime
) -> dict:
    """7. Open red flags and open conflict cases. Another partner in a case is never named:
    the partner reads this section too."""
    flag_rows = [
        {
            "kind": f.kind,
            "label": f.label,
            "opened_on": _day(f.opened_at.date()),
            "days_open": max((now - f.opened_at).days, 0),
        }
        for f in sorted(flags, key=lambda f: f.opened_at)
    ]
    conflict_rows = [
        {
            "scenario": c.scenario,
            "label": c.label,
            "account": c.account,
            "opened_on": _day(c.opened_at.date()),
            "sla_due_at": c.sla_due_at.isoformat(),
            "overdue": c.sla_due_at < now,
            "escalation_step": c.escalation_step,
            "escalation_label": c.escalation_label,
            "raised_by_partner": c.raised_by_partner,
        }
        for c in sorted(conflicts, key=lambda c: c.sla_due_at)
    ]
    return {
        "red_flags": flag_rows,
        "conflicts": conflict_rows,
        "count": len(flag_rows) + len(conflict_rows),
    }


def leads_section(figures: dict | None, *, quarter: str) -> dict | None:
    """Lead distribution in the reviewed quarter (RULEBOOK §11), stored as JSON."""
    if figures is None:
        return None
    return {
        "quarter": quarter,
        **{
            key: str(value) if isinstance(value, Decimal) else value
            for key, value in figures.items()
        },
    }


def sections(facts: QbrFacts) -> dict:
    """The whole agenda of one QBR."""
    return {
        "as_of": _day(facts.as_of),
        "prepared_at": facts.now.isoformat(),
        "quarter": facts.quarter,
        "reviewed_quarter": facts.reviewed,
        "scorecard": scorecard_section(
            facts.scorecard,
            facts.previous_scorecard,
            reviewed=facts.reviewed,
            before=facts.before,
            maxima=facts.maxima,
        ),
        "pipeline": pipeline_section(facts.open_deals, as_of=facts.as_of),
        "win_loss": win_loss_section(facts.closed_deals, quarter=facts.reviewed),
        "leads": leads_section(facts.leads, quarter=facts.reviewed),
        "enablement": enablement_section(
            certified_reps=facts.certified_reps,
            reps_required=facts.reps_required,
            lapsed=facts.lapsed,
            expiring=facts.expiring,
            engagement=facts.engagement,
            targets=facts.engagement_targets,
            quarter=facts.reviewed,
        ),
        "co_marketing": co_marketing_section(
            facts.mdf, quarter=facts.quarter, campaigns=facts.campaigns
        ),
        "growth": growth_section(facts.progress, facts.plan),
        # Days open and overdue as of the agenda's date, not the moment it was prepared.
        "escalations": escalations_section(
            facts.flags,
            facts.conflicts,
            now=min(facts.now, facts.until) if facts.until else facts.now,
        ),
    }


# ---------------------------------------------------------------- cadence and scheduling


def due_in_quarter(cadence: str, quarter_number: int) -> bool:
    """Whether a tier with this review cadence has a QBR in a quarter: every quarter for
    quarterly and more frequent cadences, the first quarter of the year (the review of the
    year just ended) for an annual one, never without a cadence."""
    if cadence == "none":
        return False
    if cadence == "annual":
        return quarter_number == 1
    return True


def check_ins(cadence: str, start: date, until: date) -> list[tuple[date, str]]:
    """The reviews a cadence adds after a QBR on ``start``, up to ``until`` inclusive:
    monthly reviews for a monthly cadence; weekly check-ins with a monthly executive review
    for a weekly one; none for quarterly or annual cadences (the next QBR is the next one).
    """
    monthly = []
    step = 1
    while add_months(start, step) <= until:
        monthly.append(add_months(start, step))
        step += 1
    if cadence == "monthly":
        return [(day, gettext_noop("Monthly review")) for day in monthly]
    if cadence == "weekly":
        weekly = []
        day = start + timedelta(days=7)
        while day <= until:
            if day not in monthly:
                weekly.append((day, gettext_noop("Weekly check-in")))
            day += timedelta(days=7)
        return sorted(weekly + [(day, gettext_noop("Monthly executive review")) for day in monthly])
    return []


LEAD_BUSINESS_DAYS = 5  # a week's notice before the first meeting of a quarter


def meeting_days(first: date, last: date, is_business_day: Callable[[date], bool]) -> list[date]:
    """The business days from ``first`` to ``last`` on which QBRs can be held, leaving a
    week's notice when the quarter has room for it."""
    days = []
    day = first
    while day <= last:
        if is_business_day(day):
            days.append(day)
        day += timedelta(days=1)
    if not days:
        return [last]
    return days[LEAD_BUSINESS_DAYS:] if len(days) > LEAD_BUSINESS_DAYS else days


def spread_meetings(partners_by_manager: dict, days: list[date]) -> dict[int, date]:
    """One QBR a business day per channel manager, in the order given, wrapping round
    when a manager has more partners than the quarter has days left."""
    return {
        partner_id: days[index % len(days)]
        for partner_ids in partners_by_manager.values()
        for index, partner_id in enumerate(partner_ids)
    }
