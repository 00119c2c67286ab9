"""The quarter close and the red-flag refresh (RULEBOOK §2, §3, §8).

Both work set-wise: a fixed number of grouped queries gathers every partner's inputs,
``scoring.rules`` decides in memory, and bulk writes store the results in batches, each
batch one transaction, keyed by (partner, quarter) so that a rerun — or a run that
crashed half-way — ends with the same rows and no duplicates.
"""

import time
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from deals.queries import deal_figures, strategic_wins_by_partner, wins_by_partner
from enablement.queries import (
    certified_rep_counts,
    current_certification_counts,
    engagement_counts,
    lapsed_certification_partners,
)
from incentives import rules as incentive_rules
from incentives import services as incentive_services
from incentives.queries import approved_contributions
from partners.models import (
    OutreachTask,
    Partner,
    PartnerStatus,
    Program,
    RedFlag,
    TierChange,
    User,
)
from prm.quarters import Quarter, trailing_twelve_months

from . import rules
from .models import QuarterClose, Scorecard
from .queries import tier_requirements
from .rules import PartnerFacts

BATCH_SIZE = 1000
STALE_AFTER = timedelta(minutes=15)  # a running close with no heartbeat since is taken over


class QuarterNotEnded(Exception):
    def __init__(self, quarter: Quarter):
        super().__init__(
            f"{quarter} ends on {quarter.end:%d %b %Y}; it can be closed from the day after."
        )


class CloseInProgress(Exception):
    pass


def weights_for(program: Program) -> rules.ScoringWeights:
    return rules.ScoringWeights(
        revenue_points=program.revenue_points,
        pipeline_points=program.pipeline_points,
        pipeline_target=program.pipeline_target,
        certification_points=program.certification_points,
        satisfaction_points=program.satisfaction_points,
        login_days_points=program.login_days_points,
        login_days_target=program.login_days_target,
        training_points=program.training_points,
        training_target=program.training_target,
        events_points=program.events_points,
        events_target=program.events_target,
        band_maintain_from=program.band_maintain_from,
        band_grow_from=program.band_grow_from,
        band_invest_from=program.band_invest_from,
    )


def _tier_rules(program: Program) -> rules.TierRules:
    return rules.TierRules(
        advance_after_closes=program.advance_after_closes,
        demote_after_closes=program.demote_after_closes,
        exit_after_closes=program.exit_after_closes,
        fast_track_score=program.fast_track_score,
        fast_track_quarter_revenue=program.fast_track_quarter_revenue,
    )


def _thresholds(program: Program) -> rules.FlagThresholds:
    return rules.FlagThresholds(
        no_deal_days=program.no_deal_days,
        low_csat_min_responses=program.low_csat_min_responses,
        low_csat_below=program.low_csat_below,
        direct_competition_min_registrations=program.direct_competition_min_registrations,
        direct_competition_share=program.direct_competition_share,
    )


def parse_ended_quarter(label: str, *, today: date | None = None) -> Quarter:
    """The quarter named by ``label``; ``QuarterNotEnded`` unless its last day has passed."""
    quarter = Quarter.parse(label)
    if quarter.end >= (today or timezone.localdate()):
        raise QuarterNotEnded(quarter)
    return quarter


@transaction.atomic
def quarter_close_request(*, quarter: str, by: User | None) -> QuarterClose:
    """Record that a close was asked for (the API and the admin then queue the job)."""
    parsed = parse_ended_quarter(quarter)
    close, _ = QuarterClose.objects.select_for_update().get_or_create(quarter=parsed.label)
    if close.state != QuarterClose.State.RUNNING:
        close.state = QuarterClose.State.QUEUED
    close.requested_by, close.requested_at = by, timezone.now()
    close.save()
    return close


def _lock_key(label: str) -> int:
    """A stable 63-bit key for the PostgreSQL advisory lock of one quarter's close."""
    import hashlib

    return (
        int.from_bytes(hashlib.sha256(f"quarter-close:{label}".encode()).digest()[:8], "big") >> 1
    )


def _try_lock(label: str) -> bool:
    """The lock per quarter. On PostgreSQL a session advisory lock: it dies with the
    process that holds it, so a killed worker never blocks the rerun."""
    if connection.vendor != "postgresql":
        return True  # the heartbeat below decides instead
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_lock_key(label)])
        return cursor.fetchone()[0]


def _unlock(label: str) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_lock_key(label)])


def _claim(label: str) -> QuarterClose:
    """Mark the close running, unless another run is alive (the lock per quarter)."""
    now = timezone.now()
    if not _try_lock(label):
        raise CloseInProgress(f"The close of {label} is already running.")
    try:
        return _mark_running(label, now)
    except Exception:
        _unlock(label)
        raise


def _mark_running(label: str, now) -> QuarterClose:
    with transaction.atomic():
        close, _ = QuarterClose.objects.select_for_update().get_or_create(quarter=label)
        alive = close.heartbeat_at and now - close.heartbeat_at < STALE_AFTER
        if (
            connection.vendor != "postgresql"
            and close.state == QuarterClose.State.RUNNING
            and alive
        ):
            raise CloseInProgress(f"The close of {label} is already running.")
        close.state = QuarterClose.State.RUNNING
        close.started_at = close.heartbeat_at = now
        close.finished_at = None
        close.partners_done = 0
        close.error = ""
        close.runs = F("runs") + 1
        close.save()
        close.refresh_from_db()
    return close


def quarter_close(
    *, quarter: str, by: User | None = None, batch_size: int = BATCH_SIZE, notify: bool = True
) -> QuarterClose:
    """Close ``quarter``: score every active partner, decide tiers, refresh red flags.

    Running it again gives the same scorecards and tier changes: each partner's tier
    before the close is kept on its scorecard and reused, tier changes are unique per
    (partner, quarter), and scorecards are overwritten in place.
    """
    parsed = parse_ended_quarter(quarter)
    close = _claim(parsed.label)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    try:
        tick = time.perf_counter()
        cards, changes, partners, gathered = _compute(parsed, by=by)
        timings["gather_and_score_s"] = round(time.perf_counter() - tick, 3)
        QuarterClose.objects.filter(pk=close.pk).update(partners_total=len(cards))

        tick = time.perf_counter()
        _write(close, parsed, cards, changes, partners, batch_size=batch_size)
        timings["write_s"] = round(time.perf_counter() - tick, 3)

        tick = time.perf_counter()
        still_active = [p for p in partners.values() if p.status == PartnerStatus.ACTIVE]
        flags = red_flags_refresh(
            as_of=parsed.end, notify=notify, partners=still_active, gathered=gathered
        )
        timings["red_flags_s"] = round(time.perf_counter() - tick, 3)

        tick = time.perf_counter()
        money = close_incentives(parsed, by=by)
        timings["incentives_s"] = round(time.perf_counter() - tick, 3)
        timings["total_s"] = round(time.perf_counter() - started, 3)
        QuarterClose.objects.filter(pk=close.pk).update(
            state=QuarterClose.State.DONE,
            finished_at=timezone.now(),
            heartbeat_at=timezone.now(),
            tier_changes=TierChange.objects.filter(quarter=parsed.label)
            .exclude(cause="override")
            .count(),
            flags_opened=flags["opened"],
            rebates=money["rebates"],
            awards_proposed=money["awards_proposed"],
            timings=timings,
        )
    except Exception as exc:
        QuarterClose.objects.filter(pk=close.pk).update(
            state=QuarterClose.State.FAILED, error=repr(exc)[:2000], finished_at=timezone.now()
        )
        raise
    finally:
        _unlock(parsed.label)
    close.refresh_from_db()
    return close


def _compute(quarter: Quarter, *, by: User | None):
    partners = list(
        Partner.objects.filter(status=PartnerStatus.ACTIVE)
        .select_related("tier", "program", "channel_manager")
        .order_by("pk")
    )
    ids = [p.pk for p in partners]
    programs = {
        program.pk: program
        for program in Program.objects.filter(
            pk__in={p.program_id for p in partners}
        ).prefetch_related("tiers")
    }
    active_ids = Partner.objects.filter(status=PartnerStatus.ACTIVE).values("pk")
    figures = _deal_figures(active_ids, as_of=quarter.end, quarter=quarter, partners=partners)
    reps = certified_rep_counts(ids, quarter.end)
    engagement = engagement_counts(ids, quarter.start, quarter.end)
    strategic = strategic_wins_by_partner(ids, *trailing_twelve_months(quarter.end))
    facts = {
        pid: PartnerFacts(
            revenue=figures.get(pid, {}).get("trailing_revenue") or Decimal("0"),
            certified_reps=reps.get(pid, 0),
            open_registrations=figures.get(pid, {}).get("open_registrations", 0),
            new_logos=figures.get(pid, {}).get("new_logos", 0),
            strategic_wins=strategic.get(pid, 0),
        )
        for pid in ids
    }
    already = dict(
        Scorecard.objects.filter(quarter=quarter.label).values_list("partner_id", "tier_before_id")
    )
    earlier_labels = [q.label for q in quarter.trailing(4)[:-1]]
    history = defaultdict(list)
    for row in (
        Scorecard.objects.filter(partner_id__in=ids, quarter__in=earlier_labels)
        .values("partner_id", "quarter", "qualified_tier__rank", "meets_lowest")
        .order_by("partner_id", "-quarter")
    ):
        history[row["partner_id"]].append(row)

    tiers_by_program = {
        pid: {t.pk: t for t in program.tiers.all()} for pid, program in programs.items()
    }
    per_program = {
        pid: {
            "requirements": tier_requirements(program),
            "by_rank": {t.rank: t for t in tiers_by_program[pid].values()},
            "weights": weights_for(program),
            "tier_rules": _tier_rules(program),
        }
        for pid, program in programs.items()
    }
    now = timezone.now()
    cards, changes = [], []
    for partner in partners:
        program = programs[partner.program_id]
        tiers = tiers_by_program[partner.program_id]
        setup = per_program[partner.program_id]
        by_rank, requirements = setup["by_rank"], setup["requirements"]
        tier_before = tiers.get(already.get(partner.pk), partner.tier)
        quota = partner.annual_quota
        if quota is None:
            quota = tier_before.default_annual_quota
        mine = figures.get(partner.pk, {})
        responses, csat_total = mine.get("csat_quarter_n", 0), mine.get("csat_quarter_sum") or 0
        inputs = rules.ScoreInputs(
            quarter_revenue=mine.get("quarter_revenue") or Decimal("0"),
            quarterly_quota=quota / 4,
            approved_registrations=mine.get("approved_in_quarter", 0),
            certified_reps=reps.get(partner.pk, 0),
            reps_required=tier_before.certified_reps_required,
            csat_responses=responses,
            csat_total=csat_total,
            **engagement[partner.pk],
        )
        card = rules.score(inputs, setup["weights"])
        partner_facts_now = facts[partner.pk]
        qualified = rules.qualified_tier(requirements, partner_facts_now)
        lowest = min(requirements, key=lambda t: t.rank)
        meets_lowest = rules.qualifies(lowest, partner_facts_now)
        earlier = history.get(partner.pk, [])
        decision = rules.decide_tier(
            rules.CloseFacts(
                current_rank=tier_before.rank,
                qualified_rank=qualified.rank,
                meets_lowest=meets_lowest,
                total=card.total,
                quarter_revenue=inputs.quarter_revenue,
                previous_qualified_ranks=tuple(r["qualified_tier__rank"] for r in earlier),
                previous_meets_lowest=tuple(r["meets_lowest"] for r in earlier),
            ),
            ranks=list(by_rank),
            rules=setup["tier_rules"],
        )
        tier_after = by_rank[decision.to_rank]
        cards.append(
            Scorecard(
                partner=partner,
                quarter=quarter.label,
                tier_before=tier_before,
                qualified_tier=by_rank[qualified.rank],
                meets_lowest=meets_lowest,
                decision=decision.action,
                tier_after=tier_after,
                inputs={
                    "quarter_revenue": str(inputs.quarter_revenue),
                    "quarterly_quota": str(inputs.quarterly_quota),
                    "approved_registrations": inputs.approved_registrations,
                    "pipeline_target": program.pipeline_target,
                    "certified_reps": inputs.certified_reps,
                    "reps_required": inputs.reps_required,
                    "csat_responses": responses,
                    "csat_average": str(round(Decimal(csat_total) / responses, 2))
                    if responses
                    else None,
                    "login_days": inputs.login_days,
                    "trainings": inputs.trainings,
                    "events": inputs.events,
                    "trailing_revenue": str(partner_facts_now.revenue),
                    "open_registrations": partner_facts_now.open_registrations,
                    "new_logos": partner_facts_now.new_logos,
                    "strategic_wins": partner_facts_now.strategic_wins,
                },
                revenue=card.revenue,
                pipeline=card.pipeline,
                certification=card.certification,
                satisfaction=card.satisfaction,
                engagement=card.engagement,
                total=card.total,
                band=card.band,
                csat_no_data=card.csat_no_data,
                closed_at=now,
            )
        )
        if decision.action != rules.Action.STAY:
            changes.append(
                TierChange(
                    partner=partner,
                    from_tier=tier_before,
                    to_tier=tier_after,
                    cause=decision.action,
                    quarter=quarter.label,
                    reason=_why(decision, qualified, card),
                    changed_by=by,
                    changed_at=now,
                )
            )
    return cards, changes, {p.pk: p for p in partners}, {"figures": figures, "reps": reps}


def _why(decision: rules.TierDecision, qualified, card: rules.ScoreCard) -> str:
    return {
        rules.Action.ADVANCE: f"Qualified for {qualified.name} at two consecutive closes.",
        rules.Action.FAST_TRACK: f"Fast-track: score {card.total} or quarter revenue.",
        rules.Action.DEMOTE: f"Below the tier's requirements at two consecutive closes "
        f"(qualifies for {qualified.name}).",
        rules.Action.EXIT: "Below the entry tier's requirements at four consecutive closes.",
    }.get(decision.action, "")


def _write(close, quarter: Quarter, cards, changes, partners, *, batch_size: int) -> None:
    fields = [
        "tier_before",
        "qualified_tier",
        "meets_lowest",
        "decision",
        "tier_after",
        "inputs",
        "revenue",
        "pipeline",
        "certification",
        "satisfaction",
        "engagement",
        "total",
        "band",
        "csat_no_data",
        "closed_at",
    ]
    changes_by_partner = {change.partner_id: change for change in changes}
    for start in range(0, len(cards), batch_size):
        batch = cards[start : start + batch_size]
        with transaction.atomic():
            Scorecard.objects.bulk_create(
                batch,
                update_conflicts=True,
                unique_fields=["partner", "quarter"],
                update_fields=fields,
            )
            batch_changes = [
                changes_by_partner[c.partner_id]
                for c in batch
                if c.partner_id in changes_by_partner
            ]
            TierChange.objects.bulk_create(batch_changes, ignore_conflicts=True)
            _apply_to_partners(quarter.label, [card.partner_id for card in batch])
            for card in batch:  # keep the in-memory partners in step (the flags read them)
                partner = partners[card.partner_id]
                partner.tier = card.tier_after
                if card.decision == rules.Action.EXIT:
                    partner.status = PartnerStatus.EXITED
            QuarterClose.objects.filter(pk=close.pk).update(
                partners_done=F("partners_done") + len(batch), heartbeat_at=timezone.now()
            )


_APPLY_SQL = """
UPDATE {partner} SET
    tier_id = s.tier_after_id,
    status = CASE WHEN s.decision = 'exit' THEN %(exited)s ELSE {partner}.status END,
    latest_score = CASE WHEN {partner}.latest_score_quarter > s.quarter
                        THEN {partner}.latest_score ELSE s.total END,
    latest_score_quarter = CASE WHEN {partner}.latest_score_quarter > s.quarter
                                THEN {partner}.latest_score_quarter ELSE s.quarter END
FROM {scorecard} s
WHERE s.partner_id = {partner}.id AND s.quarter = %(quarter)s
  AND s.partner_id IN ({ids})
"""


def _apply_to_partners(label: str, partner_ids: list[int]) -> int:
    """Copy the batch's scorecards onto the partners in one joined UPDATE: the tier after
    the close, exit, and the latest score (unless a later quarter is already there).

    A join rather than per-row subqueries: the scorecards were written a moment ago and
    have no planner statistics yet, and a join is planned well without them.
    """
    params = {"quarter": label, "exited": PartnerStatus.EXITED}
    params.update({f"p{i}": pk for i, pk in enumerate(partner_ids)})
    sql = _APPLY_SQL.format(
        partner=connection.ops.quote_name(Partner._meta.db_table),
        scorecard=connection.ops.quote_name(Scorecard._meta.db_table),
        ids=", ".join(f"%(p{i})s" for i in range(len(partner_ids))),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


# ---------------------------------------------------------------- red flags


def _deal_figures(partner_ids, *, as_of: date, partners, quarter: Quarter | None = None) -> dict:
    """The one pass over deals that the close and the red flags share (as of one day)."""
    window = max({p.program.no_deal_days for p in partners} or {90})
    quarter = quarter or Quarter.containing(as_of)
    return deal_figures(
        partner_ids,
        quarter=(quarter.start, quarter.end),
        trailing=trailing_twelve_months(as_of),
        as_of=as_of,
        recent=(as_of - timedelta(days=window - 1), as_of),
        year=(as_of - timedelta(days=364), as_of),
    )


def red_flags_refresh(
    *,
    as_of: date | None = None,
    notify: bool = True,
    partners: list[Partner] | None = None,
    gathered: dict | None = None,
) -> dict:
    """Open and resolve red flags for every active partner as of a day (RULEBOOK §8).

    New flags notify the partner's channel manager; ``no_recent_deal`` also gives the
    manager an outreach task. Safe to run twice at once: at most one flag is open per
    partner and kind (a database constraint), and a flag's task is unique to it.
    """
    as_of = as_of or timezone.localdate()
    if partners is None:
        partners = list(
            Partner.objects.filter(status=PartnerStatus.ACTIVE).select_related(
                "tier", "program", "channel_manager"
            )
        )
    ids = [p.pk for p in partners]
    if gathered is None:  # the daily refresh; the close passes what it already gathered
        active_ids = Partner.objects.filter(status=PartnerStatus.ACTIVE).values("pk")
        gathered = {
            "figures": _deal_figures(active_ids, as_of=as_of, partners=partners),
            "reps": certified_rep_counts(ids, as_of),
        }
    figures, reps = gathered["figures"], gathered["reps"]
    lapsed = lapsed_certification_partners(ids, as_of)
    wanted: set[tuple[int, str]] = set()
    for partner in partners:
        limits = _thresholds(partner.program)
        mine = figures.get(partner.pk, {})
        latest = mine.get("latest_submitted")
        since = as_of - timedelta(days=limits.no_deal_days)
        recent_count = 1 if latest and timezone.localtime(latest).date() > since else 0
        responses, total = mine.get("csat_year_n", 0), mine.get("csat_year_sum") or 0
        facts = rules.FlagFacts(
            active_days=(as_of - partner.started_on).days,
            registrations_recent=recent_count,
            certified_reps=reps.get(partner.pk, 0),
            reps_required=partner.tier.certified_reps_required,
            has_lapsed_certification=partner.pk in lapsed,
            csat_responses_year=responses,
            csat_total_year=total,
            registrations_year=mine.get("year_registrations", 0),
            direct_conflicts_year=mine.get("year_direct", 0),
        )
        wanted |= {(partner.pk, kind) for kind in rules.red_flags(facts, limits)}

    now = timezone.now()
    with transaction.atomic():
        open_now = set(
            RedFlag.objects.filter(partner_id__in=ids, status=RedFlag.Status.OPEN).values_list(
                "partner_id", "kind"
            )
        )
        to_open = wanted - open_now
        to_resolve = open_now - wanted
        if to_resolve:
            for kind in {k for _, k in to_resolve}:
                RedFlag.objects.filter(
                    status=RedFlag.Status.OPEN,
                    kind=kind,
                    partner_id__in=[pid for pid, k in to_resolve if k == kind],
                ).update(status=RedFlag.Status.RESOLVED, resolved_at=now)
        created = RedFlag.objects.bulk_create(
            [
                RedFlag(partner_id=pid, kind=kind, opened_at=now, details={"as_of": str(as_of)})
                for pid, kind in sorted(to_open)
            ],
            ignore_conflicts=True,
        )
        fresh = list(
            RedFlag.objects.filter(
                status=RedFlag.Status.OPEN,
                opened_at=now,
                partner_id__in={pid for pid, _ in to_open},
            ).select_related("partner__channel_manager")
        )
        by_id = {p.pk: p for p in partners}
        OutreachTask.objects.bulk_create(
            [
                OutreachTask(
                    partner_id=flag.partner_id,
                    assignee=by_id[flag.partner_id].channel_manager,
                    red_flag=flag,
                    title=f"Reach out to {flag.partner}: no registration in "
                    f"{by_id[flag.partner_id].program.no_deal_days} days",
                    due_on=as_of + timedelta(days=7),
                )
                for flag in fresh
                if flag.kind == rules.Flag.NO_RECENT_DEAL
            ],
            ignore_conflicts=True,
        )
        if notify:
            _notify_new_flags(fresh)
    return {"opened": len(fresh) if created else 0, "resolved": len(to_resolve)}


def _notify_new_flags(flags: list[RedFlag]) -> None:
    by_manager = defaultdict(list)
    for flag in flags:
        manager = flag.partner.channel_manager
        if manager is not None and manager.email:
            by_manager[manager.email].append(flag)
    for email, items in by_manager.items():
        lines = "\n".join(f"- {flag.partner}: {flag.get_kind_display()}" for flag in items)
        subject = f"{len(items)} new red flag(s) on your partners"
        body = f"New red flags on your partners:\n\n{lines}\n"
        transaction.on_commit(
            lambda email=email, subject=subject, body=body: send_mail(
                subject, body, settings.DEFAULT_FROM_EMAIL, [email], fail_silently=True
            )
        )


def close_incentives(quarter: Quarter, *, by: User | None = None) -> dict:
    """The close's money (RULEBOOK §6, §7), told to ``incentives`` as plain facts: each
    program's volume rebates and award proposals for the quarter, and MDF funds opened
    for the fiscal year of the next quarter. A few grouped queries, whatever the count
    of partners; a rerun adds nothing."""
    totals = {"rebates": 0, "awards_proposed": 0, "funds_opened": 0}
    previous = quarter.previous()
    for program in Program.objects.filter(partners__status=PartnerStatus.ACTIVE).distinct():
        cards = {
            row["partner_id"]: row
            for row in Scorecard.objects.filter(
                quarter=quarter.label,
                partner__program=program,
                partner__status=PartnerStatus.ACTIVE,
            ).values("partner_id", "total", "inputs", "partner__tier__certified_reps_required")
        }
        if not cards:
            continue
        ids = list(cards)
        wins = wins_by_partner(ids, quarter.start, quarter.end)
        before = wins_by_partner(ids, previous.start, previous.end)
        certs = current_certification_counts(ids, quarter.end)
        contributions = approved_contributions(program.pk, quarter.start, quarter.end)
        stats = [
            incentive_rules.QuarterStats(
                partner_id=pid,
                score=row["total"],
                revenue=wins.get(pid, {}).get("revenue", Decimal("0")),
                prior_revenue=before.get(pid, {}).get("revenue", Decimal("0")),
                new_logo_wins=wins.get(pid, {}).get("new_logos", 0),
                current_certifications=certs.get(pid, 0),
                certifications_required=row["partner__tier__certified_reps_required"],
                approved_contributions=contributions.get(pid, 0),
            )
            for pid, row in cards.items()
        ]
        accrued = incentive_services.quarter_incentives_accrue(
            program=program, quarter=quarter, stats=stats, by=by
        )
        totals["rebates"] += accrued["rebates"]
        totals["awards_proposed"] += accrued["awards_proposed"]
        totals["funds_opened"] += incentive_services.mdf_funds_open(
            program=program,
            fiscal_year=quarter.next().year,
            prior_revenue={
                pid: Decimal(row["inputs"].get("trailing_revenue") or "0")
                for pid, row in cards.items()
            },
        )
    return totals
