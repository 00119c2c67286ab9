"""The executive dashboard's figures (RULEBOOK §10 portfolio targets and economics, and the
seed's "Partner Performance Dashboard"), computed set-wise: each section is one or a few
grouped queries over indexed columns, whatever the number of partners or deals.

Deal figures come from per-partner quarter sums (``DealQuarter``, one row per partner and
quarter, written nightly and kept true by registrations, wins, losses and rejections in
between) where they exist — every ended quarter once summed to its end, the open quarter
once summed that day — and from the deals themselves otherwise. Both give the same
figures (tested).

Every figure has a definition (``DEFINITIONS``), shown as its tooltip and in the API.
"""

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import (
    Count,
    DecimalField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from deals.models import Deal, DealQuarter, DealStatus, SummarizedQuarter
from deals.queries import closed_in, open_on, outcome_figures, pipeline_figures
from enablement.models import Certification, LoginDay, TrainingCompletion
from incentives import rules as incentive_rules
from incentives.models import (
    EntryKind,
    EntryStatus,
    LedgerEntry,
    MdfClaim,
    MdfClaimStatus,
    MdfFund,
)
from incentives.queries import mdf_sourced
from partners.models import Partner, PartnerStatus, Program, Tier, TierChange, User
from prm.money import money_field_kwargs
from prm.quarters import Quarter
from prm.roles import Role

from . import lead_rules
from .models import CompanyRevenue, QuarterClose, Scorecard
from .queries import lead_rows

MONEY = DecimalField(**money_field_kwargs())
ZERO = Value(Decimal("0"), output_field=MONEY)
OPEN = (DealStatus.PENDING, DealStatus.APPROVED)
# RULEBOOK §10 targets.
REGISTERED_PER_GOLD = 10
TOP_SHARE_TARGET = Decimal("0.80")
CHANNEL_SHARE_TARGET = Decimal("0.30")
MANAGER_LOAD = (20, 30)

DEFINITIONS = {
    "active_partners": _("Partners whose status is active (now), within the filters."),
    "onboarded": _("Partners whose partnership started in the quarter."),
    "exited": _("Partners moved out of the program in the quarter (tier change: exit)."),
    "retention_rate": _("Partners active at the quarter's start who did not exit during it."),
    "partner_sourced_revenue": _(
        "Won amount of deals closed in the quarter that partners "
        "brought alone (no direct relationship, not co-sell)."
    ),
    "partner_assisted_revenue": _(
        "Won amount of deals closed in the quarter with our own team "
        "involved (a direct relationship on the account, or co-sell)."
    ),
    "channel_share": _(
        "Partner-sourced plus partner-assisted revenue ÷ the company's total "
        "revenue for the quarter (entered by finance). Target: 30% by year 3. Until "
        "finance enters the quarter's, that of the last closed quarter it entered, "
        "labelled with its quarter."
    ),
    "pipeline": _(
        "Open registrations (pending or approved, protection not lapsed) at the "
        "quarter's end or today, whichever is earlier: their estimated amounts."
    ),
    "average_deal_size": _("Won amount ÷ number of deals won in the quarter."),
    "qoq_growth": _(
        "Partner credit this quarter against the previous quarter; while the quarter is "
        "still open (to date), against the same number of days at the start of the "
        "previous quarter."
    ),
    "win_rate": _("Won ÷ (won + lost) of deals closed in the quarter."),
    "win_rate_direct": _("The same on accounts with a direct relationship (our own rep)."),
    "attainment": _("Partner credit in the quarter ÷ the quarterly quota (annual ÷ 4)."),
    "health": _(
        "Scorecards of the quarter: on target ≥ 60, at risk 40–59.99, off target < 40. "
        "Until the quarter is closed, those of the last close, labelled with its quarter."
    ),
    "pipeline_coverage": _("Open pipeline ÷ the quota still to reach this quarter."),
    "certified_partners": _(
        "Active partners with at least one current certification at the quarter's end."
    ),
    "new_certifications": _("Certifications issued in the quarter."),
    "training_completions": _("Courses completed in the quarter."),
    "portal_engagement": _("Active partners whose people signed in to the portal in the quarter."),
    "spiffs_paid": _("SPIFF ledger entries paid in the quarter."),
    "rebates_committed": _("Volume rebates owed for the quarter (approved or paid)."),
    "mdf_allocated": _("MDF funds of the quarter's fiscal year."),
    "mdf_used": _(
        "MDF used: reimbursed on approved claims plus still reserved by approved "
        "activities, on the funds of the quarter's fiscal year."
    ),
    "mdf_reimbursed": _("Reimbursed on approved claims, on those funds."),
    "mdf_reserved": _("Still reserved by approved activities not yet reimbursed, on those funds."),
    "mdf_year_pipeline": _(
        "Open registrations (pending or approved) sourced by the activities of those "
        "funds: their estimated amounts."
    ),
    "mdf_year_revenue": _("Partner credit of won deals sourced by the activities of those funds."),
    "mdf_pipeline_return": _(
        "Pipeline sourced ÷ MDF used, on the funds of the quarter's fiscal year "
        '(the seed dashboard\'s "MDF ROI").'
    ),
    "mdf_revenue_return": _("Revenue won ÷ MDF used, on the funds of the quarter's fiscal year."),
    "mdf_pipeline": _("Open pipeline and revenue of deals sourced by MDF activities."),
    "mdf_roi": _(
        "Kept for older API clients and shown on no page: (pipeline + revenue of deals "
        "sourced by any MDF activity) ÷ all MDF reimbursed. Read mdf_pipeline_return and "
        "mdf_revenue_return instead."
    ),
    "incentive_roi": _(
        "Partner credit in the quarter ÷ incentives owed for it (all ledger "
        "entries earned in the quarter, void ones excluded)."
    ),
    "pyramid": _("Active partners per tier; target: 10 registered partners per gold partner."),
    "concentration": _(
        "Share of partner revenue (last 4 quarters) from the top 20% of "
        "partners. The rulebook expects about 80%."
    ),
    "manager_load": _("Active partners per channel manager; the rulebook expects 20–30."),
    "lead_acceptance": _(
        "Leads offered in the quarter and answered: the share accepted (declined and "
        "unanswered offers count against it)."
    ),
    "lead_time_to_accept": _("Median time from a lead's offer to its acceptance, in hours."),
    "lead_conversion": _(
        "Leads accepted in the quarter on which the partner has won a deal since: their share."
    ),
}


@dataclass(frozen=True)
class Filters:
    tier: str = ""
    manager: int | None = None
    region: str = ""
    program: int | None = None

    def apply(self, partners: QuerySet[Partner]) -> QuerySet[Partner]:
        if self.program:
            partners = partners.filter(program_id=self.program)
        if self.tier:
            partners = partners.filter(tier__slug=self.tier)
        if self.manager:
            partners = partners.filter(channel_manager_id=self.manager)
        if self.region:
            partners = partners.filter(region=self.region)
        return partners


def dashboard_scope(
    visible: QuerySet[Partner], filters: Filters
) -> tuple[QuerySet[Partner], Filters, str]:
    """The partners the dashboard adds up, its filters and their reporting currency.
    Sums never mix currencies (RULEBOOK §12): when the filtered partners' programs report
    in more than one, the dashboard keeps to one program, the default first. One query,
    two when no partner is left."""
    partners = filters.apply(visible)
    programs = programs_of(partners)
    if len({currency for _, _, currency in programs}) > 1:
        filters = replace(filters, program=programs[0][0])
        partners = filters.apply(visible)
    currency = programs[0][2] if programs else _default_currency()
    return partners, filters, currency


def _default_currency() -> str:
    program = Program.objects.filter(is_default=True).values_list("currency", flat=True)
    return program.first() or "USD"


def _m(value) -> Decimal:
    """Money as stored: two places (sums come back with more on some databases)."""
    return Decimal(value or 0).quantize(Decimal("0.01"))


def _ratio(part, whole, places: str = "0.001") -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal(places))


def _of(ids) -> dict:
    """The filter to the partners ``ids`` (a subquery of their ids), or none when the
    dashboard covers every partner: a semi-join less on each statement."""
    return {} if ids is None else {"partner_id__in": ids}


def _won(partner_ids, quarter: Quarter) -> QuerySet[Deal]:
    return Deal.objects.filter(
        **_of(partner_ids),
        status=DealStatus.WON,
        closed_on__range=(quarter.start, quarter.end),
    )


def _summed(*fields: str) -> dict:
    """The sum of each ``DealQuarter`` column over the rows, zero when there are none."""
    return {
        name: Coalesce(
            Sum(name),
            ZERO if isinstance(DealQuarter._meta.get_field(name), DecimalField) else 0,
        )
        for name in fields
    }


def summarized(quarters, *, today: date) -> set[str]:
    """Which of ``quarters`` have per-partner deal sums to read (one query): complete ones
    (counted to the quarter's end) and the open quarter's if written today."""
    return set(
        SummarizedQuarter.objects.filter(
            Q(as_of=F("end")) | Q(as_of=today), quarter__in=[q.label for q in quarters]
        ).values_list("quarter", flat=True)
    )


def _summary(ids, labels) -> QuerySet[DealQuarter]:
    return DealQuarter.objects.filter(**_of(ids), quarter__in=list(labels))


def outcomes(ids, quarter: Quarter, *, summaries: set[str], as_of: date | None = None) -> dict:
    """Won and lost deals closed in ``quarter`` (and, given ``as_of``, the open pipeline on
    that day), summed over the partners ``ids``: one query on a summarised quarter, one or
    two on the deals otherwise."""
    if quarter.label in summaries:
        # The columns the grouped queries over the deals fill, the same names.
        fields = [*outcome_figures(), *(pipeline_figures() if as_of else ())]
        return _summary(ids, [quarter.label]).aggregate(**_summed(*fields))
    row = closed_in(quarter.start, quarter.end).filter(**_of(ids)).aggregate(**outcome_figures())
    if as_of:
        row |= Deal.objects.filter(open_on(as_of), **_of(ids)).aggregate(**pipeline_figures())
    return row


def dashboard(partners: QuerySet[Partner], quarter: Quarter, *, today: date, currency: str) -> dict:
    """Every figure of the executive dashboard for ``partners`` (already scoped to the
    viewer and filtered, their programs reporting in ``currency``: ``dashboard_scope``) in
    ``quarter``: about twenty grouped queries, whatever the size of the book; a few more
    for the quarter still open, and when the quarter has no scorecards or company revenue
    yet (then the last close's stand in, labelled)."""
    ids = partners.values("pk") if partners.query.where else None
    summaries = summarized(quarter.trailing(6), today=today)
    series = revenue_series(ids, quarter, summaries=summaries, today=today)
    money = revenue(ids, quarter, today=today, summaries=summaries, series=series)
    tiers = by_tier(partners, quarter, summaries=summaries)
    cards = health(ids, quarter, tiers=tiers, pipeline=money["pipeline"])
    if not cards["scored"] or money["channel_share"] is None:
        closes = last_closes(quarter)
        if not cards["scored"] and closes:
            cards["last_close"] = bands_at_close(ids, closes[0][0])
        if money["channel_share"] is None:
            money["channel_share_last_close"] = channel_share_at_close(
                ids, closes, summaries=summaries
            )
    return {
        "quarter": quarter.label,
        "currency": currency,
        "to_date": is_open(quarter, today),
        "as_of": min(today, quarter.end),
        "ecosystem": ecosystem(partners, quarter),
        "revenue": money,
        "tiers": tiers,
        "health": cards,
        "enablement": enablement(partners, ids, quarter),
        "incentives": incentives(ids, quarter, credit=money["partner_credit"]),
        "top_partners": top_partners(ids, quarter, summaries=summaries),
        "revenue_series": series,
        "program": program_health(partners, ids, quarter, summaries=summaries),
        "leads": leads(ids, quarter),
        "definitions": DEFINITIONS,
    }


def leads(ids, quarter: Quarter, *, limit: int = 10) -> dict:
    """Lead distribution in ``quarter`` (RULEBOOK §11): the figures in all, and those of the
    ``limit`` partners offered the most leads, figured for those partners only. Three
    queries."""
    start = timezone.make_aware(datetime.combine(quarter.start, time.min))
    until = timezone.make_aware(datetime.combine(quarter.end + timedelta(days=1), time.min))
    offers, counts = lead_rows(ids, start=start, until=until)
    shown = lead_rules.busiest(offers, counts, limit=limit)
    total, per_partner = lead_rules.lead_figures(offers, counts, partners=shown)
    names = dict(Partner.objects.filter(pk__in=shown).values_list("pk", "name"))
    return total | {
        "partners": [{"id": pk, "name": names.get(pk, ""), **per_partner[pk]} for pk in shown]
    }


def is_open(quarter: Quarter, today: date) -> bool:
    """Whether ``quarter`` is the one still running: its figures are to date."""
    return quarter.start <= today <= quarter.end


def same_point_before(quarter: Quarter, today: date) -> date:
    """The day as many days into the previous quarter as ``today`` is into ``quarter``
    (no later than that quarter's end): an open quarter's growth compares like with like."""
    previous = quarter.previous()
    return min(previous.start + (today - quarter.start), previous.end)


def last_closes(quarter: Quarter) -> list[tuple[str, Decimal | None]]:
    """The finished closes of the quarters before ``quarter``, newest first, each with the
    company revenue finance entered for it: one query over a row a quarter."""
    company = CompanyRevenue.objects.filter(quarter=OuterRef("quarter")).values("amount")[:1]
    return list(
        QuarterClose.objects.filter(state=QuarterClose.State.DONE, quarter__lt=quarter.label)
        .order_by("-quarter")
        .annotate(company=Subquery(company))
        .values_list("quarter", "company")
    )


def _bands(ids, label: str) -> dict:
    # Totals counted (never null), not ids: the quarter's are read from its index alone.
    return Scorecard.objects.filter(**_of(ids), quarter=label).aggregate(
        on_target=Count("total", filter=Q(total__gte=60)),
        at_risk=Count("total", filter=Q(total__gte=40, total__lt=60)),
        off_target=Count("total", filter=Q(total__lt=40)),
        scored=Count("total"),
    )


def bands_at_close(ids, label: str) -> dict | None:
    """The scorecard bands the close of ``label`` wrote, or None if it scored none of
    these partners."""
    cards = _bands(ids, label)
    return {"quarter": label, **cards} if cards["scored"] else None


def channel_share_at_close(ids, closes: list, *, summaries: set[str]) -> dict | None:
    """The channel's share of the newest closed quarter whose company revenue was entered."""
    label, company = next(((q, amount) for q, amount in closes if amount), (None, None))
    if label is None:
        return None
    row = outcomes(ids, Quarter.parse(label), summaries=summaries)
    channel = row["sourced_amount"] + row["assisted_amount"]
    return {
        "quarter": label,
        "channel_share": _ratio(channel, company),
        "channel_revenue": _m(channel),
        "company_revenue": _m(company),
    }


def ecosystem(partners: QuerySet[Partner], quarter: Quarter) -> dict:
    ids = partners.values("pk") if partners.query.where else None
    exits = TierChange.objects.filter(**_of(ids), cause="exit")
    exited_before = exits.filter(changed_at__date__lt=quarter.start).values("partner_id")
    # The few exits of the quarter, hashed once, rather than a probe per partner.
    exited_in = exits.filter(changed_at__date__range=(quarter.start, quarter.end)).values(
        "partner_id"
    )
    prospect = Q(status=PartnerStatus.PROSPECT)
    row = partners.aggregate(
        active=Count("pk", filter=Q(status=PartnerStatus.ACTIVE)),
        onboarding=Count("pk", filter=Q(status=PartnerStatus.ONBOARDING)),
        suspended=Count("pk", filter=Q(status=PartnerStatus.SUSPENDED)),
        exited_status=Count("pk", filter=Q(status=PartnerStatus.EXITED)),
        onboarded=Count("pk", filter=Q(started_on__range=(quarter.start, quarter.end)) & ~prospect),
        at_start=Count(
            "pk",
            filter=Q(started_on__lt=quarter.start) & ~prospect & ~Q(pk__in=exited_before),
        ),
        exited=Count("pk", filter=Q(pk__in=exited_in)),
    )
    return {
        "active_partners": row["active"],
        "by_status": {
            "active": row["active"],
            "onboarding": row["onboarding"],
            "suspended": row["suspended"],
            "exited": row["exited_status"],
        },
        "onboarded": row["onboarded"],
        "exited": row["exited"],
        "retention_rate": _ratio(row["at_start"] - row["exited"], row["at_start"]),
    }


def revenue(ids, quarter: Quarter, *, today: date, summaries: set[str], series: list[dict]) -> dict:
    """Revenue of ``quarter``. The growth compares with the previous quarter's credit, read
    from the revenue ``series`` (the same sums, already there); while ``quarter`` is open,
    with the credit of as many days of the previous quarter (one query more)."""
    as_of = min(today, quarter.end)
    row = outcomes(ids, quarter, summaries=summaries, as_of=as_of)
    previous = quarter.previous()
    to_date = is_open(quarter, today)
    if to_date:
        through = same_point_before(quarter, today)
        # ``partner_credit`` is set on every win; naming it lets the wins of every
        # partner be read from the deal_won_closed index alone (deals.models.Deal).
        before = Deal.objects.filter(
            **_of(ids),
            status=DealStatus.WON,
            partner_credit__isnull=False,
            closed_on__range=(previous.start, through),
        ).aggregate(won_credit=Coalesce(Sum("partner_credit"), ZERO))
    else:
        through = previous.end
        before = {"won_credit": next(r["credit"] for r in series if r["quarter"] == previous.label)}
    company = (
        CompanyRevenue.objects.filter(quarter=quarter.label)
        .values_list("amount", flat=True)
        .first()
    )
    channel = row["sourced_amount"] + row["assisted_amount"]
    average = _ratio(row["won_amount"], row["won_priced"], "0.01") or Decimal("0.00")
    return {
        "partner_sourced_revenue": _m(row["sourced_amount"]),
        "partner_assisted_revenue": _m(row["assisted_amount"]),
        "partner_credit": _m(row["won_credit"]),
        "company_revenue": _m(company) if company else None,
        "channel_share": _ratio(channel, company) if company else None,
        "channel_share_last_close": None,
        "pipeline": _m(row["pipeline_amount"]),
        "pipeline_deals": row["pipeline_deals"],
        "deals_won": row["won_deals"],
        "average_deal_size": average,
        "qoq_growth": _ratio(row["won_credit"] - before["won_credit"], before["won_credit"]),
        "previous_credit": _m(before["won_credit"]),
        "previous_quarter": previous.label,
        "previous_through": through,
        "to_date": to_date,
        "win_rate": _ratio(row["won_deals"], row["won_deals"] + row["lost_deals"]),
        "win_rate_direct": _ratio(row["won_direct"], row["closed_direct"]),
    }


def _quarterly_quota(partners: QuerySet[Partner]):
    return Coalesce("annual_quota", "tier__default_annual_quota")


def by_tier(partners: QuerySet[Partner], quarter: Quarter, *, summaries: set[str]) -> list[dict]:
    """Per tier: active partners, partner credit in the quarter, quarterly quota and the
    attainment against it."""
    active = partners.filter(status=PartnerStatus.ACTIVE)
    quota_rows = {
        row["tier__slug"]: row
        for row in active.values("tier__slug", "tier__name", "tier__rank")
        .annotate(partners=Count("pk"), quota=Sum(_quarterly_quota(active)))
        .order_by()
    }
    # The active partners through the join to their tier, the filters through ``ids``.
    ids = partners.values("pk") if partners.query.where else None
    if quarter.label in summaries:
        won = _summary(ids, [quarter.label]).filter(partner__status=PartnerStatus.ACTIVE)
        credit = dict(
            won.values_list("partner__tier__slug").annotate(credit=Sum("won_credit")).order_by()
        )
    else:
        credit = dict(
            _won(ids, quarter)
            .filter(partner__status=PartnerStatus.ACTIVE)
            .values_list("partner__tier__slug")
            .annotate(credit=Sum("partner_credit"))
            .order_by()
        )
    rows = []
    for slug, row in sorted(quota_rows.items(), key=lambda item: -item[1]["tier__rank"]):
        quarterly = (row["quota"] or Decimal("0")) / 4
        earned = credit.get(slug) or Decimal("0")
        rows.append(
            {
                "tier": slug,
                "name": row["tier__name"],
                "rank": row["tier__rank"],
                "partners": row["partners"],
                "revenue": _m(earned),
                "quota": quarterly.quantize(Decimal("0.01")),
                "attainment": _ratio(earned, quarterly),
            }
        )
    return rows


def health(ids, quarter: Quarter, *, tiers: list[dict], pipeline: Decimal) -> dict:
    """Scorecard bands of the quarter, attainment and pipeline coverage of the active
    partners (from the tier rows already computed)."""
    cards = _bands(ids, quarter.label)
    quota = sum((row["quota"] for row in tiers), Decimal("0"))
    earned = sum((row["revenue"] for row in tiers), Decimal("0"))
    remaining = max(quota - earned, Decimal("0"))
    return {
        **cards,
        "last_close": None,
        "pipeline_coverage": _ratio(pipeline, remaining, "0.01"),
        "quota": _m(quota),
        "attainment": _ratio(earned, quota),
    }


def enablement(partners: QuerySet[Partner], ids, quarter: Quarter) -> dict:
    active = partners.filter(status=PartnerStatus.ACTIVE)
    # The partners in view with a current certification, as a set (for every partner,
    # hashed once: a probe per partner cost a third more on 20,000); a login day is looked
    # up per partner, a quarter has hundreds of thousands.
    current = Certification.objects.filter(
        **_of(ids), issued_on__lte=quarter.end, expires_on__gt=quarter.end
    ).values("partner_id")
    logged_in = LoginDay.objects.filter(
        partner_id=OuterRef("pk"), day__range=(quarter.start, quarter.end)
    )
    row = active.aggregate(
        active=Count("pk"),
        certified=Count("pk", filter=Q(pk__in=current)),
        engaged=Count("pk", filter=Q(Exists(logged_in))),
    )
    return {
        "active": row["active"],
        "certified_partners": row["certified"],
        "certified_share": _ratio(row["certified"], row["active"]),
        "new_certifications": Certification.objects.filter(
            **_of(ids), issued_on__range=(quarter.start, quarter.end)
        ).count(),
        "training_completions": TrainingCompletion.objects.filter(
            **_of(ids), completed_on__range=(quarter.start, quarter.end)
        ).count(),
        "portal_engagement": _ratio(row["engaged"], row["active"]),
        "engaged_partners": row["engaged"],
    }


def incentives(ids, quarter: Quarter, *, credit: Decimal) -> dict:
    # Paid in the quarter: from its first moment to the next quarter's, in the site's time
    # zone (what ``paid_at__date__range`` meant), as a range an index can read.
    paid_from = timezone.make_aware(datetime.combine(quarter.start, time.min))
    paid_before = timezone.make_aware(datetime.combine(quarter.end + timedelta(days=1), time.min))
    spiffs_paid = Q(
        kind=EntryKind.SPIFF,
        status=EntryStatus.PAID,
        paid_at__gte=paid_from,
        paid_at__lt=paid_before,
    )
    # Two reads of the rows they count, each from an index alone (the quarter's entries,
    # the SPIFFs paid in it), not one pass over the whole ledger (bench/pages.py: 260 ms
    # on 1,000,000 entries, against about 60 ms for the quarter's).
    entries = LedgerEntry.objects.filter(**_of(ids))
    paid = entries.filter(spiffs_paid).aggregate(total=Coalesce(Sum("amount"), ZERO))
    row = entries.filter(quarter=quarter.label).aggregate(
        rebates_committed=Coalesce(
            Sum(
                "amount",
                filter=Q(
                    kind=EntryKind.REBATE,
                    quarter=quarter.label,
                    status__in=(EntryStatus.APPROVED, EntryStatus.PAID),
                ),
            ),
            ZERO,
        ),
        owed_for_quarter=Coalesce(
            Sum("amount", filter=Q(quarter=quarter.label) & ~Q(status=EntryStatus.VOID)), ZERO
        ),
    )
    year_funds = MdfFund.objects.filter(**_of(ids), fiscal_year=quarter.year)
    funds = year_funds.aggregate(
        allocated=Coalesce(Sum("amount"), ZERO),
        reimbursed=Coalesce(Sum("reimbursed"), ZERO),
        reserved=Coalesce(Sum("reserved"), ZERO),
    )
    year_sourced = mdf_sourced(year_funds)
    sourced = (
        Deal.objects.filter(**_of(ids), mdf_request__isnull=False)
        .exclude(status__in=(DealStatus.REJECTED, DealStatus.LOST, DealStatus.EXPIRED))
        .aggregate(
            pipeline=Coalesce(Sum("amount_reporting", filter=Q(status__in=OPEN)), ZERO),
            revenue=Coalesce(Sum("partner_credit", filter=Q(status=DealStatus.WON)), ZERO),
        )
    )
    # A claim's partner is its request's: the approved claims alone, no join to the requests.
    reimbursed_all = MdfClaim.objects.filter(**_of(ids), status=MdfClaimStatus.APPROVED).aggregate(
        total=Coalesce(Sum("reimbursement"), ZERO)
    )["total"]
    used = funds["reimbursed"] + funds["reserved"]
    returns = incentive_rules.mdf_return(
        pipeline=year_sourced["pipeline"], revenue=year_sourced["revenue"], used=used
    )
    return {
        "spiffs_paid": _m(paid["total"]),
        "rebates_committed": _m(row["rebates_committed"]),
        "incentives_owed": _m(row["owed_for_quarter"]),
        "mdf_allocated": _m(funds["allocated"]),
        "mdf_used": _m(used),
        "mdf_reimbursed": _m(funds["reimbursed"]),
        "mdf_reserved": _m(funds["reserved"]),
        "mdf_used_share": _ratio(used, funds["allocated"]),
        "mdf_year_pipeline": _m(year_sourced["pipeline"]),
        "mdf_year_revenue": _m(year_sourced["revenue"]),
        "mdf_pipeline_return": returns.pipeline,
        "mdf_revenue_return": returns.revenue,
        "mdf_pipeline": _m(sourced["pipeline"]),
        "mdf_revenue": _m(sourced["revenue"]),
        "mdf_roi": incentive_rules.mdf_roi(
            pipeline=sourced["pipeline"], revenue=sourced["revenue"], reimbursed=reimbursed_all
        ),
        "incentive_roi": _ratio(credit, row["owed_for_quarter"], "0.1"),
    }


def revenue_series(
    ids, quarter: Quarter, *, summaries: set[str], today: date, count: int = 6
) -> list[dict]:
    """Partner credit and deals won per quarter, the last ``count`` quarters (the one still
    open marked ``to_date``): one query over the summarised ones, one over the deals of
    the others."""
    quarters = quarter.trailing(count)
    running = {q.label for q in quarters if is_open(q, today)}
    by_quarter: dict[str, dict] = {q.label: {"credit": Decimal("0"), "deals": 0} for q in quarters}
    done = [q.label for q in quarters if q.label in summaries]
    live = [q for q in quarters if q.label not in summaries]
    if done:
        for row in (
            _summary(ids, done)
            .values("quarter")
            .annotate(credit=Sum("won_credit"), deals=Sum("won_deals"))
            .order_by()
        ):
            by_quarter[row["quarter"]] = {"credit": row["credit"], "deals": row["deals"]}
    if live:
        spans = Q()
        for q in live:
            spans |= Q(closed_on__range=(q.start, q.end))
        rows = (
            Deal.objects.filter(spans, **_of(ids), status=DealStatus.WON)
            .values("closed_on__year", "closed_on__month")
            .annotate(credit=Sum("partner_credit"), deals=Count("pk"))
            .order_by()
        )
        start_month = quarter.start_month
        for row in rows:
            label = Quarter.containing(
                date(row["closed_on__year"], row["closed_on__month"], 1), start_month=start_month
            ).label
            by_quarter[label]["credit"] += row["credit"] or 0
            by_quarter[label]["deals"] += row["deals"]
    return [
        {
            "quarter": label,
            "credit": _m(v["credit"]),
            "deals": v["deals"],
            "to_date": label in running,
        }
        for label, v in by_quarter.items()
    ]


def top_partners(ids, quarter: Quarter, *, summaries: set[str], limit: int = 10) -> list[dict]:
    columns = ("partner_id", "partner__name", "partner__tier__name", "partner__latest_score")
    if quarter.label in summaries:
        rows = (
            _summary(ids, [quarter.label])
            .filter(won_deals__gt=0)
            .values(*columns, revenue=F("won_credit"), deals=F("won_deals"))
            .order_by("-won_credit", "partner_id")[:limit]
        )
    else:
        rows = (
            _won(ids, quarter)
            .values(*columns)
            .annotate(revenue=Sum("partner_credit"), deals=Count("pk"))
            .order_by("-revenue", "partner_id")[:limit]
        )
    return [
        {
            "id": row["partner_id"],
            "name": row["partner__name"],
            "tier": row["partner__tier__name"],
            "score": row["partner__latest_score"],
            "revenue": _m(row["revenue"]),
            "deals": row["deals"],
        }
        for row in rows
    ]


def top_share(ids, quarter: Quarter, *, summaries: set[str], active: int) -> dict:
    """Revenue concentration (RULEBOOK §10): the share of the partner credit of the four
    quarters ending with ``quarter`` that the top fifth earned, a fifth of the ``active``
    partners (of the earning ones when none is active). Two queries, over one row per
    earning partner: from the quarter's sums, or from the deals."""
    if quarter.label in summaries:
        rows = _summary(ids, [quarter.label]).filter(year_credit__gt=0)
        rows = rows.values("partner_id", credit=F("year_credit"))
    else:
        first = quarter.trailing(4)[0]
        rows = (
            Deal.objects.filter(
                **_of(ids), status=DealStatus.WON, closed_on__range=(first.start, quarter.end)
            )
            .values("partner_id")
            .annotate(credit=Sum("partner_credit"))
        )
    whole = rows.order_by().aggregate(total=Coalesce(Sum("credit"), ZERO), earning=Count("*"))
    earning = active or whole["earning"]
    top_n = max(1, round(earning * 0.2)) if earning else 0
    top = Decimal("0")
    if top_n and whole["total"]:
        largest = rows.order_by("-credit", "partner_id")[:top_n]
        top = largest.aggregate(top=Coalesce(Sum("credit"), ZERO))["top"]
    return {"top_share": _ratio(top, whole["total"]), "top_partners": top_n}


def program_health(
    partners: QuerySet[Partner], ids, quarter: Quarter, *, summaries: set[str]
) -> dict:
    """RULEBOOK §10 portfolio targets: the pyramid, revenue concentration, channel managers'
    load."""
    active = partners.filter(status=PartnerStatus.ACTIVE)
    counts = dict(active.values_list("tier__rank").annotate(n=Count("pk")).order_by())
    lowest, gold = counts.get(0, 0), counts.get(2, 0)
    concentration = top_share(ids, quarter, summaries=summaries, active=sum(counts.values()))
    # Each channel manager's active partners among these: counted over the partners, then
    # set beside the managers (a join of every user to the partners cost five times more).
    managed = dict(
        active.filter(channel_manager__isnull=False)
        .values_list("channel_manager_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    managers = (
        User.objects.filter(role=Role.CHANNEL_MANAGER, is_active=True)
        .order_by("username")
        .values("pk", "username", "first_name", "last_name")
    )
    # The busiest first; a stable sort keeps the database's order of names among equals.
    load = sorted(
        ({**row, "partners": managed.get(row["pk"], 0)} for row in managers),
        key=lambda row: -row["partners"],
    )
    low, high = MANAGER_LOAD
    for row in load:
        row["state"] = (
            "overloaded" if row["partners"] > high else "light" if row["partners"] < low else "ok"
        )
    return {
        "pyramid": {
            "by_rank": counts,
            "registered_per_gold": _ratio(lowest, gold, "0.1"),
            "target_per_gold": REGISTERED_PER_GOLD,
        },
        "concentration": {**concentration, "target": TOP_SHARE_TARGET},
        "channel_share_target": CHANNEL_SHARE_TARGET,
        "manager_load": load,
        "overloaded_managers": sum(1 for row in load if row["state"] == "overloaded"),
    }


def tiers_of(partners: QuerySet[Partner]) -> list[tuple[str, str]]:
    """The tiers of the programs the partners belong to, for the tier filter."""
    tiers = Tier.objects.all()
    if partners.query.where:
        tiers = tiers.filter(program_id__in=partners.order_by().values("program_id").distinct())
    return list(tiers.values_list("slug", "name").distinct().order_by("slug"))


def programs_of(partners: QuerySet[Partner]) -> list[tuple[int, str, str]]:
    """The programs the partners belong to, the default first: id, name and reporting
    currency, for the program filter."""
    return list(
        Program.objects.filter(pk__in=partners.order_by().values("program_id"))
        .order_by("-is_default", "name")
        .values_list("pk", "name", "currency")
    )


def dashboard_request(params) -> tuple[Quarter, Filters]:
    """The quarter and filters of a dashboard request; ``ValueError`` says what is wrong."""
    from django.utils import timezone

    from partners.models import Region

    label = (params.get("quarter") or "").strip()
    quarter = Quarter.parse(label) if label else Quarter.containing(timezone.localdate())
    manager = (params.get("manager") or "").strip()
    if manager and not manager.isdigit():
        raise ValueError(f"manager must be a user id, not {manager!r}.")
    region = (params.get("region") or "").strip()
    if region and region not in Region.values:
        raise ValueError(f"region must be one of {', '.join(Region.values)}.")
    program = (params.get("program") or "").strip()
    if program and not program.isdigit():
        raise ValueError(f"program must be a program id, not {program!r}.")
    return quarter, Filters(
        tier=(params.get("tier") or "").strip(),
        manager=int(manager) if manager else None,
        region=region,
        program=int(program) if program else None,
    )
