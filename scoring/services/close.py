"""The quarter close and the red-flag refresh (RULEBOOK §2, §3, §8).

Both work set-wise: a fixed number of grouped queries gathers every partner's inputs as
plain values, ``scoring.rules`` decides in memory, and a few set-wise statements store
the results in batches, each batch one transaction, keyed by (partner, quarter) so that a
rerun — or a run that crashed half-way — ends with the same rows and no duplicates.

The money and the red flags are written after the scorecard batches, from the decisions
in memory (they read no scorecard back).
"""

import dataclasses
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, gettext_noop

from deals.queries import day_span, deal_figures, strategic_wins_by_partner
from enablement.queries import (
    certification_counts,
    certified_rep_counts,
    engagement_counts,
    lapsed_certification_partners,
)
from incentives.queries import approved_contributions
from incentives.services.ledger import quarter_incentives_accrue
from incentives.services.mdf import mdf_funds_open
from partners import services as partner_services
from partners.models import (
    Program,
    RedFlagKind,
    Tier,
    TierChange,
    User,
)
from partners.services.versions import program_versions_for_close
from prm.audit import audited
from prm.mail import mail_on_commit
from prm.quarters import Quarter, trailing_twelve_months

from .. import rules, version_rules
from ..models import QuarterClose, Scorecard
from ..queries import (
    PartnerRow,
    active_partner_ids,
    active_partners,
    first_partner_started,
    pipeline_lead_counts,
    scorecard_history,
    tiers_before_close,
)
from ..rules import PartnerFacts
from ..version_rules import CloseInputs, ProgramRules

BATCH_SIZE = 2000  # partners per transaction; the admin shows progress batch by batch
# A running close with no heartbeat for this long has stopped (its worker was killed): the
# next run takes it over. Heartbeats come after gathering, after each batch (about a second
# each) and before the money, so a live close never goes this long without one.
STALE_AFTER = timedelta(minutes=5)


class CloseRefused(Exception):
    """A quarter that may not be closed (RULEBOOK §2): ``code`` names the rule, the
    message says why, in words a channel chief reads."""

    code = "close_refused"


class QuarterNotEnded(CloseRefused):
    code = rules.CloseRefusal.NOT_ENDED

    def __init__(self, quarter: Quarter):
        super().__init__(
            gettext("%(quarter)s ends on %(end)s; it can be closed from the day after.")
            % {"quarter": quarter.label, "end": date_format(quarter.end)}
        )


class QuarterBeforeFirstPartner(CloseRefused):
    code = rules.CloseRefusal.BEFORE_FIRST_PARTNER

    def __init__(self, quarter: Quarter, first_started: date):
        super().__init__(
            gettext(
                "%(quarter)s ended on %(end)s, before the program's first partner started "
                "on %(started)s: no partner can be scored for it. The first quarter that "
                "can be closed is %(first)s."
            )
            % {
                "quarter": quarter.label,
                "end": date_format(quarter.end),
                "started": date_format(first_started),
                "first": Quarter.containing(first_started).label,
            }
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


def quarter_close_check(quarter: str, *, today: date | None = None) -> Quarter:
    """The quarter named by ``quarter`` if it may be closed; ``CloseRefused`` (with the
    reason) if not, ``ValueError`` if it names no quarter. Every face of the close asks
    this first: the API, the admin, the command and the scheduled job."""
    parsed = Quarter.parse(quarter)
    first = first_partner_started()
    refusal = rules.close_refusal(
        quarter_end=parsed.end, today=today or timezone.localdate(), first_partner_started=first
    )
    if refusal == rules.CloseRefusal.NOT_ENDED:
        raise QuarterNotEnded(parsed)
    if refusal == rules.CloseRefusal.BEFORE_FIRST_PARTNER:
        raise QuarterBeforeFirstPartner(parsed, first)
    return parsed


@audited
@transaction.atomic
def quarter_close_request(*, quarter: str, by: User | None) -> QuarterClose:
    """Record that a close was asked for (the API and the admin then queue the job)."""
    parsed = quarter_close_check(quarter)
    close, _ = QuarterClose.objects.select_for_update().get_or_create(quarter=parsed.label)
    if close.state != QuarterClose.State.RUNNING:
        close.state = QuarterClose.State.QUEUED
    close.requested_by, close.requested_at, close.sent_at = by, timezone.now(), None
    close.save()
    return close


# A close still queued this long after it was last sent (or, never sent, requested) is
# sent again by the sweep (``scoring.tasks.requeue_closes``).
REQUEUE_AFTER = timedelta(minutes=10)


def quarter_close_sent(quarter: str) -> None:
    """The broker has the queued close of ``quarter``."""
    QuarterClose.objects.filter(quarter=quarter, state=QuarterClose.State.QUEUED).update(
        sent_at=timezone.now()
    )


def quarter_closes_claim_stale(*, now: datetime | None = None) -> list[QuarterClose]:
    """The queued closes to send again: last sent (or requested, if never sent) more than
    ``REQUEUE_AFTER`` ago. Each is claimed by a conditional UPDATE that moves its
    ``sent_at`` to now, so that two sweeps at once never both take one."""
    now = now or timezone.now()
    cutoff = now - REQUEUE_AFTER
    stale = Q(state=QuarterClose.State.QUEUED) & (
        Q(sent_at__lt=cutoff) | Q(sent_at__isnull=True, requested_at__lt=cutoff)
    )
    claimed = [
        pk
        for pk in QuarterClose.objects.filter(stale).values_list("pk", flat=True)
        if QuarterClose.objects.filter(stale, pk=pk).update(sent_at=now)
    ]
    return list(QuarterClose.objects.filter(pk__in=claimed).order_by("quarter"))


def _claim(label: str, by: User | None) -> QuarterClose:
    """Mark the close running, unless another run of it is alive.

    Alive means a heartbeat (written after each step and batch) younger than
    ``STALE_AFTER``. The claim is one short transaction holding the close's row: no
    session lock, so it holds behind a pooler in transaction mode (PgBouncer) as it does
    on a direct connection, and a run killed half-way is taken over once its heartbeat is
    stale."""
    now = timezone.now()
    with transaction.atomic():
        close, _ = QuarterClose.objects.select_for_update().get_or_create(quarter=label)
        alive = close.heartbeat_at and now - close.heartbeat_at < STALE_AFTER
        if close.state == QuarterClose.State.RUNNING and alive:
            raise CloseInProgress(
                gettext(
                    "The close of %(quarter)s is already running (last sign of life at "
                    "%(at)s); a run that stopped is taken over %(minutes)s minutes after it."
                )
                % {
                    "quarter": label,
                    "at": timezone.localtime(close.heartbeat_at).strftime("%H:%M:%S"),
                    "minutes": int(STALE_AFTER.total_seconds() // 60),
                }
            )
        close.state = QuarterClose.State.RUNNING
        # Who runs it: the admin's confirmation of a rerun names them (none for the
        # scheduled job or the command).
        close.requested_by = by
        close.started_at = close.heartbeat_at = now
        close.finished_at = None
        close.partners_done = 0
        close.error = ""
        close.runs = F("runs") + 1
        close.save()
        close.refresh_from_db()
    return close


def _heartbeat(close: QuarterClose, **fields) -> None:
    QuarterClose.objects.filter(pk=close.pk).update(heartbeat_at=timezone.now(), **fields)


@audited
def quarter_close(
    *, quarter: str, by: User | None = None, batch_size: int = BATCH_SIZE, notify: bool = True
) -> QuarterClose:
    """Close ``quarter``: score every active partner that started before its last day,
    decide tiers, refresh red flags. ``CloseRefused`` for a quarter that may not be closed.

    Running it again gives the same scorecards and tier changes: each partner's tier
    before the close is kept on its scorecard and reused, tier changes are unique per
    (partner, quarter), and scorecards are overwritten in place.
    """
    try:
        parsed = quarter_close_check(quarter)
    except CloseRefused as exc:
        # A close queued before the refusal held (a start date moved since) would be
        # waited for as queued: it is failed with the reason instead.
        QuarterClose.objects.filter(
            quarter=Quarter.parse(quarter).label, state=QuarterClose.State.QUEUED
        ).update(state=QuarterClose.State.FAILED, error=str(exc), finished_at=timezone.now())
        raise
    close = _claim(parsed.label, by)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    try:
        tick = time.perf_counter()
        gathered = _gather(parsed)
        timings["gather_s"] = round(time.perf_counter() - tick, 3)
        _heartbeat(close, partners_total=len(gathered.partners))

        tick = time.perf_counter()
        decided = _score_and_write(close, parsed, gathered, by=by, batch_size=batch_size)
        timings["score_and_write_s"] = round(time.perf_counter() - tick, 3)
        _heartbeat(close)
        money, flags, seconds = _money_and_flags(parsed, gathered, decided, by=by, notify=notify)
        timings.update(seconds)
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
    close.refresh_from_db()
    return close


def quarter_close_stopped(quarter: str, *, limit_seconds: int) -> str:
    """The close of ``quarter`` was stopped at its time limit: unless it finished meanwhile,
    it ends failed, with the reason (the admin shows it, and offers to run it again). One
    stopped before it started stays queued, and the sweep sends it again. Returns the
    reason."""
    if not connection.is_usable():
        connection.close()  # stopped in the middle of a statement: start afresh
    reason = gettext(
        "The close ran past its time limit of %(minutes)d minutes and was stopped. The "
        "partners it had scored keep their scorecards; run the close again to finish it."
    ) % {"minutes": limit_seconds // 60}
    # Still marked running (stopped outside the close's own error handling), or failed by it
    # with the bare exception's name: either way the row gets the reason in words.
    running = Q(state=QuarterClose.State.RUNNING)
    stopped = Q(state=QuarterClose.State.FAILED, error__startswith="SoftTimeLimitExceeded")
    QuarterClose.objects.filter(running | stopped, quarter=Quarter.parse(quarter).label).update(
        state=QuarterClose.State.FAILED, error=reason, finished_at=timezone.now()
    )
    return reason


# ---------------------------------------------------------------- gathering


@dataclass(frozen=True)
class _ProgramSetup:
    """A program's version for the quarter closed, and its rules, read once per close."""

    version_id: int
    rules: ProgramRules
    pipeline_target: int


def _program_setups(programs: dict[int, Program], label: str) -> dict:
    """Each program's version for the quarter ``label`` (RULEBOOK §12): the close decides
    with its rules, not with the live program's."""
    versions = program_versions_for_close(programs.values(), label)
    setups = {}
    for pk, version in versions.items():
        decided_by = version_rules.program_rules(version.rules)
        setups[pk] = _ProgramSetup(
            version_id=version.pk,
            rules=decided_by,
            pipeline_target=decided_by.weights.pipeline_target,
        )
    return setups


def _programs_of(partners: list[PartnerRow]) -> dict[int, Program]:
    return {
        program.pk: program
        for program in Program.objects.filter(pk__in={p.program_id for p in partners})
    }


@dataclass
class _Gathered:
    """Every input of the close, gathered once: plain values keyed by partner id."""

    partners: list[PartnerRow]
    programs: dict[int, Program]
    setups: dict[int, _ProgramSetup]
    tiers: dict[int, Tier]
    figures: dict[int, dict]
    reps: dict[int, int]
    certifications: dict[int, int]  # current certifications held (awards count them)
    engagement: dict[int, dict]
    strategic: dict[int, int]
    leads: dict[int, int]  # accepted leads that count as pipeline (RULEBOOK §11)
    already: dict[int, int]
    history: dict[int, tuple]
    contributions: dict[int, int]  # approved community contributions in the quarter
    flag_inputs: "_FlagInputs"


def _gather(quarter: Quarter) -> _Gathered:
    """Every scored partner's inputs, as of the quarter's last day, with a fixed number of
    grouped queries: the scores' and tier decisions', and the red flags'.

    Scored: active, and started before the quarter's last day (RULEBOOK §2). The others
    get nothing from this close: no scorecard, tier decision, red flag or money."""
    as_of = quarter.end
    partners = active_partners(started_before=as_of)
    programs = _programs_of(partners)
    figures = deal_figures(None, **_figure_spans(as_of, quarter, programs.values()))
    other = _enablement_and_history(quarter)
    tiers = other["tiers"]
    reps = {pk: people for pk, (people, _) in other["certifications"].items()}
    return _Gathered(
        partners=partners,
        programs=programs,
        setups=_program_setups(programs, quarter.label),
        tiers=tiers,
        figures=figures,
        reps=reps,
        certifications={pk: held for pk, (_, held) in other["certifications"].items()},
        engagement=other["engagement"],
        strategic=other["strategic"],
        leads=other["leads"],
        already=other["already"],
        history=other["history"],
        contributions={
            pid: count
            for program in programs
            for pid, count in approved_contributions(program, quarter.start, quarter.end).items()
        },
        flag_inputs=_FlagInputs.as_of_day(
            as_of,
            programs,
            figures=figures,
            reps=reps,
            lapsed=other["lapsed"],
            reps_required={pk: tier.certified_reps_required for pk, tier in tiers.items()},
        ),
    )


def _enablement_and_history(quarter: Quarter) -> dict:
    """The close's inputs that are not deals: tiers, certifications, engagement, strategic
    wins, and what earlier closes (and an earlier run of this one) decided."""
    as_of = quarter.end
    scored = active_partner_ids(started_before=as_of)
    return {
        "tiers": {tier.pk: tier for tier in Tier.objects.all()},
        "certifications": certification_counts(None, as_of),
        "engagement": engagement_counts(None, quarter.start, as_of),
        "strategic": strategic_wins_by_partner(scored, *trailing_twelve_months(as_of)),
        "already": tiers_before_close(quarter.label),
        "leads": pipeline_lead_counts(quarter.start, as_of),
        "history": scorecard_history(scored, [q.label for q in quarter.trailing(4)[:-1]]),
        # A current certification at any active partner vouches for its holder, as in the
        # daily refresh, whether or not that partner is scored for this quarter.
        "lapsed": lapsed_certification_partners(active_partner_ids(), as_of),
    }


# ---------------------------------------------------------------- scoring


# What a rerun rewrites of a scorecard (keyed by partner and quarter).
_CARD_FIELDS = [
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
    "version",
]
_NO_FIGURES: dict = {}
_NO_ENGAGEMENT = {"login_days": 0, "trainings": 0, "events": 0}
_ZERO = Decimal("0")


def _decide(
    gathered: _Gathered, partners: list[PartnerRow], *, label: str, now: datetime
) -> tuple[list[Scorecard], list[partner_services.CloseOutcome], list[tuple[int, str]]]:
    """Score and decide ``partners`` in memory, on plain values, and find the red flags of
    those that stay: their scorecards (unsaved), what the close decided for each partner,
    and their flags as (partner id, kind). Reads nothing from the database."""
    flags_of, exit_ = gathered.flag_inputs.flags_of, rules.Action.EXIT
    cards, outcomes, flags = [], [], []
    for partner in partners:
        card, outcome = _decide_partner(gathered, partner, label=label, now=now)
        cards.append(card)
        outcomes.append(outcome)
        if card.decision != exit_:
            flags.extend((partner.pk, kind) for kind in flags_of(partner, card.tier_after_id))
    return cards, outcomes, flags


def _decide_partner(
    gathered: _Gathered, partner: PartnerRow, *, label: str, now: datetime
) -> tuple[Scorecard, partner_services.CloseOutcome]:
    """One partner's scorecard (unsaved) and what the close decided for it: its score, the
    tier it qualifies for, and its tier after the close (RULEBOOK §2, §3), under the
    rules of its program's version for the quarter."""
    pk = partner.pk
    setup = gathered.setups[partner.program_id]
    decides = setup.rules
    before_id = gathered.already.get(pk)
    if before_id not in decides.tiers:
        before_id = partner.tier_id
    given = _partner_inputs(gathered, partner)
    decided = version_rules.decide_partner(decides, before_id, given)
    card, decision, qualified = decided.card, decided.decision, decided.qualified
    scorecard = Scorecard(
        partner_id=pk,
        quarter=label,
        tier_before_id=before_id,
        qualified_tier_id=decided.qualified_tier_id,
        meets_lowest=decided.meets_lowest,
        decision=decision.action,
        tier_after_id=decided.tier_after_id,
        inputs=version_rules.stored_inputs(decided, given, pipeline_target=setup.pipeline_target),
        revenue=card.revenue,
        pipeline=card.pipeline,
        certification=card.certification,
        satisfaction=card.satisfaction,
        engagement=card.engagement,
        total=card.total,
        band=card.band,
        csat_no_data=card.csat_no_data,
        closed_at=now,
        version_id=setup.version_id,
    )
    moves = decision.action != rules.Action.STAY
    outcome = partner_services.CloseOutcome(
        partner_id=pk,
        tier_before_id=before_id,
        tier_after_id=decided.tier_after_id,
        exits=decision.action == rules.Action.EXIT,
        score=card.total,
        cause=decision.action if moves else "",
        version_id=setup.version_id,
    )
    if moves:
        message, params = _why(decision, qualified, card)
        outcome = dataclasses.replace(outcome, reason_message=message, reason_params=params)
    return scorecard, outcome


def _partner_inputs(gathered: _Gathered, partner: PartnerRow) -> CloseInputs:
    """What the score, the tier decision and the money read of one partner, from what was
    gathered: whatever the rules, so a scorecard keeps them and can be decided again."""
    pk = partner.pk
    mine = gathered.figures.get(pk, _NO_FIGURES)
    certified = gathered.reps.get(pk, 0)
    earlier_ranks, earlier_meets = gathered.history.get(pk, ((), ()))
    engagement = gathered.engagement.get(pk, _NO_ENGAGEMENT)
    return CloseInputs(
        quarter_revenue=mine.get("quarter_revenue") or _ZERO,
        annual_quota=partner.annual_quota,
        approved_registrations=mine.get("approved_in_quarter", 0),
        accepted_leads=gathered.leads.get(pk, 0),
        certified_reps=certified,
        csat_responses=mine.get("csat_quarter_n", 0),
        csat_total=mine.get("csat_quarter_sum") or 0,
        login_days=engagement["login_days"],
        trainings=engagement["trainings"],
        events=engagement["events"],
        facts=PartnerFacts(
            revenue=mine.get("trailing_revenue") or _ZERO,
            certified_reps=certified,
            open_registrations=mine.get("open_registrations", 0),
            new_logos=mine.get("new_logos", 0),
            strategic_wins=gathered.strategic.get(pk, 0),
        ),
        previous_qualified_ranks=tuple(earlier_ranks),
        previous_meets_lowest=tuple(earlier_meets),
        previous_revenue=mine.get("previous_revenue") or _ZERO,
        quarter_new_logos=mine.get("quarter_new_logos", 0),
        certifications=gathered.certifications.get(pk, 0),
        contributions=gathered.contributions.get(pk, 0),
    )


def _why(decision: rules.TierDecision, qualified, card: rules.ScoreCard) -> tuple[str, dict]:
    """Why the tier moves: a source shown in the reader's language, and its values."""
    if decision.action == rules.Action.ADVANCE:
        return gettext_noop("Qualified for %(tier)s at two consecutive closes."), {
            "tier": qualified.name
        }
    if decision.action == rules.Action.FAST_TRACK:
        return gettext_noop("Fast-track: score %(score)s or quarter revenue."), {
            "score": str(card.total)
        }
    if decision.action == rules.Action.DEMOTE:
        return gettext_noop(
            "Below the tier's requirements at two consecutive closes (qualifies for %(tier)s)."
        ), {"tier": qualified.name}
    if decision.action == rules.Action.EXIT:
        return gettext_noop("Below the entry tier's requirements at four consecutive closes."), {}
    return "", {}


# ---------------------------------------------------------------- writing


@dataclass
class _Batch:
    """One batch of the close, decided and ready to store: its scorecards, what was
    decided for each partner, and the red flags found."""

    cards: list[Scorecard]
    outcomes: list[partner_services.CloseOutcome]
    flags: list[tuple[int, str]]


def _prepare_batch(
    gathered: _Gathered, partners: list[PartnerRow], *, label: str, now: datetime
) -> _Batch:
    """Decide ``partners`` (in the decider's thread: reads nothing from the database)."""
    return _Batch(*_decide(gathered, partners, label=label, now=now))


def _store_batch(close: QuarterClose, batch: _Batch, *, label: str, by, now) -> None:
    """One batch, one transaction: the scorecards upserted (keyed by partner and quarter),
    and the partners' tier moves, exits and latest scores through ``partners``."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            _commit_without_waiting(cursor)
        Scorecard.objects.bulk_create(
            batch.cards,
            update_conflicts=True,
            unique_fields=["partner", "quarter"],
            update_fields=_CARD_FIELDS,
        )
        partner_services.partners_close_apply(quarter=label, outcomes=batch.outcomes, by=by, at=now)
        QuarterClose.objects.filter(pk=close.pk).update(
            partners_done=F("partners_done") + len(batch.cards),
            heartbeat_at=timezone.now(),
        )


def _commit_without_waiting(cursor) -> None:
    """Let this transaction's commit return before its WAL reaches the disk.

    Only for the close's own transactions: the close ends by marking itself done in a
    transaction that does wait, and flushing that flushes all the WAL before it, so a
    finished close is as durable as ever. A crash before that loses at most the last few
    batches, which a rerun (keyed by partner and quarter) writes again.
    """
    if connection.vendor == "postgresql":
        cursor.execute("SET LOCAL synchronous_commit = off")


@dataclass
class _Decided:
    """What the close decided and stored: each partner's tier after, decision and score, and the
    red flags of the partners that stay."""

    after: dict[int, tuple[int, str, Decimal]]
    flags: set[tuple[int, str]]


def _score_and_write(
    close, quarter: Quarter, gathered: _Gathered, *, by: User | None, batch_size: int
) -> _Decided:
    """Decide and store the close batch by batch, each batch one transaction. Returns what
    was decided for every partner, for the money and the red flags.

    Deciding a batch is pure Python on what was gathered, and storing one is mostly
    waiting for the database: a second thread decides the next batches meanwhile. It
    never touches the database (this thread's connection and transactions stay here).
    """
    label, now = quarter.label, timezone.now()
    partners = gathered.partners
    decided = _Decided(after={}, flags=set())
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="quarter-decide") as decider:
        pending = [
            decider.submit(
                _prepare_batch,
                gathered,
                partners[start : start + batch_size],
                label=label,
                now=now,
            )
            for start in range(0, len(partners), batch_size)
        ]
        try:
            for future in pending:
                batch = future.result()
                _store_batch(close, batch, label=label, by=by, now=now)
                decided.after.update(
                    (c.partner_id, (c.tier_after_id, c.decision, c.total)) for c in batch.cards
                )
                decided.flags.update(batch.flags)
        finally:
            for future in pending:
                future.cancel()  # after a failure, decide no more
    return decided


def _money_and_flags(
    quarter: Quarter, gathered: _Gathered, decided: _Decided, *, by: User | None, notify: bool
) -> tuple[dict, dict, dict]:
    """The close's money and red flags once every partner is decided (they read no
    scorecard): their totals, and their seconds."""
    tick = time.perf_counter()
    money = close_incentives(quarter, gathered, decided.after, by=by)
    paid = time.perf_counter()
    flags = _close_flags(gathered, decided, notify=notify)
    return (
        money,
        flags,
        {
            "incentives_s": round(paid - tick, 3),
            "red_flags_s": round(time.perf_counter() - paid, 3),
        },
    )


# ---------------------------------------------------------------- red flags


def _figure_spans(as_of: date, quarter: Quarter, programs) -> dict:
    """The windows of ``deal_figures`` as of one day: the one pass over deals that the
    close and the red flags share."""
    window = max({program.no_deal_days for program in programs} or {90})
    previous = quarter.previous()
    return {
        "quarter": (quarter.start, quarter.end),
        "previous": (previous.start, previous.end),
        "trailing": trailing_twelve_months(as_of),
        "as_of": as_of,
        "recent": (as_of - timedelta(days=window - 1), as_of),
        "year": (as_of - timedelta(days=364), as_of),
    }


@dataclass(frozen=True)
class _FlagInputs:
    """What the red flags read as of one day (RULEBOOK §8), for every partner."""

    as_of: date
    figures: dict[int, dict]  # deal_figures
    reps: dict[int, int]  # certified reps
    lapsed: set[int]  # partners with a lapsed certification
    reps_required: dict[int, int]  # by tier id
    limits: dict[int, rules.FlagThresholds]  # by program id
    recent_from: dict[int, datetime]  # by program id: a registration since then is recent

    @classmethod
    def as_of_day(cls, as_of: date, programs: dict[int, Program], **read) -> "_FlagInputs":
        limits = {pk: _thresholds(program) for pk, program in programs.items()}
        # Recent: submitted on a day (site time) after as_of minus the no-deal days.
        recent_from = {
            pk: day_span(as_of - timedelta(days=limit.no_deal_days - 1), as_of)[0]
            for pk, limit in limits.items()
        }
        return cls(as_of=as_of, limits=limits, recent_from=recent_from, **read)

    def flags_of(self, partner: PartnerRow, tier_id: int) -> set[str]:
        """The flags whose condition holds for ``partner`` holding the tier ``tier_id``."""
        mine = self.figures.get(partner.pk, _NO_FIGURES)
        latest = mine.get("latest_submitted")
        facts = rules.FlagFacts(
            active_days=(self.as_of - partner.started_on).days,
            registrations_recent=1
            if latest and latest >= self.recent_from[partner.program_id]
            else 0,
            certified_reps=self.reps.get(partner.pk, 0),
            reps_required=self.reps_required[tier_id],
            has_lapsed_certification=partner.pk in self.lapsed,
            csat_responses_year=mine.get("csat_year_n", 0),
            csat_total_year=mine.get("csat_year_sum") or 0,
            registrations_year=mine.get("year_registrations", 0),
            direct_conflicts_year=mine.get("year_direct", 0),
        )
        return rules.red_flags(facts, self.limits[partner.program_id])

    def wanted(self, partners: list[PartnerRow]) -> set[tuple[int, str]]:
        return {(p.pk, kind) for p in partners for kind in self.flags_of(p, p.tier_id)}


def red_flags_refresh(*, as_of: date | None = None, notify: bool = True) -> dict:
    """Open and resolve red flags for every active partner as of a day (RULEBOOK §8).

    New flags notify the partner's channel manager; ``no_recent_deal`` also gives the
    manager an outreach task. Safe to run twice at once: at most one flag is open per
    partner and kind (a database constraint), and a flag's task is unique to it.
    """
    as_of = as_of or timezone.localdate()
    partners = active_partners()
    programs = _programs_of(partners)
    given = _FlagInputs.as_of_day(
        as_of,
        programs,
        figures=deal_figures(
            None, **_figure_spans(as_of, Quarter.containing(as_of), programs.values())
        ),
        reps=certified_rep_counts(None, as_of),
        lapsed=lapsed_certification_partners(active_partner_ids(), as_of),
        reps_required=dict(Tier.objects.values_list("pk", "certified_reps_required")),
    )
    return _apply_flags(as_of, partners, given.wanted(partners), notify=notify)


def _close_flags(gathered: _Gathered, decided: _Decided, *, notify: bool) -> dict:
    """The close's red flags, as of the quarter's last day, for the partners as the close
    leaves them: the same a refresh on that day would raise right after the close.

    They were found with each partner's decision, from the inputs gathered for the
    scores. A lapsed certification counts only when its holder has no current one at an
    active partner: if a partner exits at this close, that is asked again, without it
    (whether or not its exit is stored yet).
    """
    given, after = gathered.flag_inputs, decided.after
    staying = [p for p in gathered.partners if after[p.pk][1] != rules.Action.EXIT]
    wanted = decided.flags
    if len(staying) < len(gathered.partners):
        exiting = [p.pk for p in gathered.partners if after[p.pk][1] == rules.Action.EXIT]
        lapsed = lapsed_certification_partners(
            active_partner_ids().exclude(pk__in=exiting), given.as_of
        )
        if lapsed != given.lapsed:
            wanted = dataclasses.replace(given, lapsed=lapsed).wanted(
                [p._replace(tier_id=after[p.pk][0]) for p in staying]
            )
    return _apply_flags(given.as_of, staying, wanted, notify=notify)


def _apply_flags(as_of: date, partners: list[PartnerRow], wanted, *, notify: bool) -> dict:
    """Make the open flags of ``partners`` those wanted (``partners`` keeps the flags and
    their outreach tasks), and tell the channel managers of the new ones."""
    by_id = {partner.pk: partner for partner in partners}
    fresh, resolved = partner_services.red_flags_apply(
        as_of=as_of, partner_ids=by_id, wanted=wanted
    )
    if notify:
        _notify_new_flags([(by_id[flag.partner_id], flag.kind) for flag in fresh])
    return {"opened": len(fresh), "resolved": resolved}


def _notify_new_flags(flags: list[tuple[PartnerRow, str]]) -> None:
    labels = {kind: str(label) for kind, label in RedFlagKind.choices}  # translated once
    by_manager = defaultdict(list)
    for partner, kind in flags:
        if partner.manager_email:
            by_manager[partner.manager_email].append((partner, kind))
    for email, items in by_manager.items():
        lines = "\n".join(f"- {partner.name}: {labels[kind]}" for partner, kind in items)
        subject = f"{len(items)} new red flag(s) on your partners"
        body = f"New red flags on your partners:\n\n{lines}\n"
        mail_on_commit(subject, body, email)


@audited
def close_incentives(
    quarter: Quarter,
    gathered: _Gathered,
    after: dict[int, tuple[int, str, Decimal]],
    *,
    by: User | None = None,
) -> dict:
    """The close's money (RULEBOOK §6, §7), told to ``incentives`` as plain facts: each
    program's volume rebates and award proposals for the quarter, and MDF funds opened
    for the fiscal year of the next quarter, for the partners active after the close.

    Everything comes from what the close gathered and decided (``after``: each partner's
    tier after the close, decision and score), so it needs no scorecard stored yet. A few
    grouped queries, whatever the count of partners; a rerun adds nothing."""
    totals = {"rebates": 0, "awards_proposed": 0, "funds_opened": 0}
    figures = gathered.figures
    staying: dict[int, list[PartnerRow]] = defaultdict(list)
    for partner in gathered.partners:
        if after[partner.pk][1] != rules.Action.EXIT:
            staying[partner.program_id].append(partner)
    for program_id, partners in staying.items():
        program = gathered.programs[program_id]
        setup = gathered.setups[program_id]
        partner_ids = [partner.pk for partner in partners]
        stats = []
        for partner in partners:
            tier_id, _, total = after[partner.pk]
            stats.append(
                version_rules.quarter_stats(
                    partner.pk,
                    _partner_inputs(gathered, partner),
                    score=total,
                    reps_required=setup.rules.reps_required(tier_id),
                )
            )
        # One transaction: the foreign-key checks of the entries and the funds lock each
        # partner row once, not once for each.
        with transaction.atomic():
            with connection.cursor() as cursor:
                _commit_without_waiting(cursor)
            accrued = quarter_incentives_accrue(
                program=program,
                quarter=quarter,
                stats=stats,
                by=by,
                brackets=list(setup.rules.brackets),
                awards=setup.rules.awards,
                version_id=setup.version_id,
            )
            funds = mdf_funds_open(
                program=program,
                fiscal_year=quarter.next().year,
                prior_revenue={
                    pid: figures.get(pid, _NO_FIGURES).get("trailing_revenue") or _ZERO
                    for pid in partner_ids
                },
                tiers={pid: after[pid][0] for pid in partner_ids},
            )
        totals["rebates"] += accrued["rebates"]
        totals["awards_proposed"] += accrued["awards_proposed"]
        totals["funds_opened"] += funds
    return totals
