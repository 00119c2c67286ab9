"""Reads over deals shared by pages, API, admin and jobs."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from incentives.rules import WonDeal
from partners.models import Account, Lead, Program
from partners.queries import scope_to_user
from prm.money import money_field_kwargs
from prm.normalize import domain_skeleton, name_skeleton

from . import rules
from .models import ConflictCase, Deal, DealStatus

OPEN_STATUSES = (DealStatus.PENDING, DealStatus.APPROVED)


@dataclass(frozen=True)
class CustomerCheck:
    """What registration needs to know about a customer, from one query."""

    account_id: int | None
    direct: bool
    holder_partner_id: int | None  # the partner protecting the customer, if any
    lead_before: bool  # a CRM lead for the customer existed before the moment asked
    # Another partner's open registration on an account that is probably the same
    # customer (RULEBOOK §4), with that account's keys; ``None`` if there is none.
    probable_deal_id: int | None = None
    probable_keys: tuple[str, str] | None = None


def protecting(*, at: datetime, live: bool, account=None) -> QuerySet[Deal]:
    """Registrations protecting ``account`` (default: the outer query's) at ``at``.

    ``live``: now — pending, or approved and unexpired; the database allows at most one
    such row per account. Otherwise judged as of a past moment (imports): registered by
    then, not rejected, protected and not closed that day; the oldest first.
    """
    on = at.date()
    account = OuterRef("pk") if account is None else account
    unexpired = Q(expires_on__isnull=True) | Q(expires_on__gte=on)
    if live:
        return Deal.objects.filter(unexpired, account=account, status__in=OPEN_STATUSES)
    return (
        Deal.objects.filter(unexpired, account=account, submitted_at__lte=at)
        .exclude(status=DealStatus.REJECTED)
        .filter(Q(closed_on__isnull=True) | Q(closed_on__gt=on))
        .order_by("submitted_at")
    )


_CHECK_SQL = """
SELECT a.id,
       COALESCE(a.direct_rep <> '', FALSE),
       (SELECT d.partner_id FROM {deal} d
        WHERE d.account_id = a.id
          AND (d.expires_on IS NULL OR d.expires_on >= %(on)s)
          AND {holder_condition}
        {holder_order}
        LIMIT 1),
       EXISTS (SELECT 1 FROM {lead} l
               WHERE (l.account_id = a.id OR {lead_key})
                 AND l.created_at < %(at)s
                 AND NOT (COALESCE(l.partner_id = %(partner)s, FALSE)
                          AND l.status IN ('accepted', 'converted', 'closed'))),
       {probe},
       a.merged_into_id
FROM (SELECT 1) AS one
LEFT JOIN {account} a ON {account_condition}
ORDER BY {order}
LIMIT 1
"""
# Is there another partner's open registration on a probably-same account, one that
# shares the customer's domain skeleton or name skeleton (two indexed probes)? Any one
# answers; ``_probable`` then picks the earliest a manager has not judged separate.
_PROBE_SQL = """(SELECT d.id FROM {deal} d
        JOIN {account} p ON p.id = d.account_id
        WHERE ({probe_condition})
          AND (a.id IS NULL OR p.id <> a.id)
          AND d.status IN ('pending', 'approved')
          AND (d.expires_on IS NULL OR d.expires_on >= %(on)s)
          AND d.partner_id <> %(partner)s
        LIMIT 1)"""
_LIVE = "d.status IN ('pending', 'approved')"
_AS_OF = (
    "d.submitted_at <= %(at)s AND d.status <> 'rejected'"
    " AND (d.closed_on IS NULL OR d.closed_on > %(on)s)"
)


def customer_check(
    *,
    partner_id: int,
    domain_key: str,
    name_key: str,
    at: datetime,
    live: bool = True,
    account_id: int | None = None,
) -> CustomerCheck:
    """The conflict check of RULEBOOK §4: one indexed statement, whatever the customer.

    Finds the account by registrable domain, else by normalised name (or takes
    ``account_id`` when the caller already holds it, locked), and returns with it the
    partner whose registration protects it at ``at``, whether a CRM lead for it was
    created before ``at`` (leads this partner accepted, or was passed directly, do not
    count, nor do those it has since registered or closed: RULEBOOK §11; one merely
    offered to it does), and, now
    (``live``), another partner's open registration on a probably-same customer.
    ``live`` false: judged as of a past moment (imports), as ``protecting`` describes,
    without the probe. An account merged into another is checked as that one, and a
    probable match as ``_probable`` says: each a second statement, on those rare paths.

    Written in SQL (portable: PostgreSQL and the embedded SQLite) because it is the hot
    path of every registration and of the portal's as-you-type hint: the ORM's query
    building cost several times the database's own work (bench/registration.py).
    """
    ops = connection.ops
    skeletons = {"dskel": domain_skeleton(domain_key), "nskel": name_skeleton(name_key)}
    params = {
        "at": ops.adapt_datetimefield_value(at),
        "on": ops.adapt_datefield_value(at.date()),
        "partner": partner_id,
        "domain": domain_key,
        "name": name_key,
        "account": account_id,
        **skeletons,
    }
    sql = _check_sql(
        domain_key=domain_key,
        name_key=name_key,
        account_id=account_id,
        live=live,
        skeletons=skeletons,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        pk, direct, holder_partner_id, lead_before, probable, merged_into = cursor.fetchone()
    if merged_into is not None:
        return customer_check(
            partner_id=partner_id,
            domain_key=domain_key,
            name_key=name_key,
            at=at,
            live=live,
            account_id=merged_into,
        )
    found = None
    if probable is not None:
        found = _probable(partner_id, account_id=pk, on=at.date(), **skeletons)
    return CustomerCheck(
        pk,
        bool(direct),
        holder_partner_id,
        bool(lead_before),
        found[0] if found else None,
        found[1:] if found else None,
    )


def _check_sql(
    *, domain_key: str, name_key: str, account_id: int | None, live: bool, skeletons: dict
) -> str:
    """``customer_check``'s statement: how the account is found (the one given, by domain,
    or by name), how its protecting registration is judged (now, or as of a past
    moment), and whether to probe for a probably-same customer (now, with a skeleton)."""
    if account_id is not None:
        condition, order = "a.id = %(account)s", "a.id"
    elif domain_key:
        # A same-named account on another domain is someone else: only domain-less ones.
        condition = "a.domain_key = %(domain)s"
        if name_key:
            condition += " OR (a.name_key = %(name)s AND a.domain_key = '')"
        order = "(a.domain_key = %(domain)s) DESC, a.id"
    else:
        condition, order = "a.name_key = %(name)s", "a.domain_key, a.id"
    probes = [
        f"p.{column} = %({key})s"
        for column, key in (("domain_skeleton", "dskel"), ("name_skeleton", "nskel"))
        if skeletons[key]
    ]
    probe = (
        _PROBE_SQL.format(
            account=Account._meta.db_table,
            deal=Deal._meta.db_table,
            probe_condition=" OR ".join(probes),
        )
        if live and probes
        else "NULL"
    )
    return _CHECK_SQL.format(
        lead=Lead._meta.db_table,
        account=Account._meta.db_table,
        deal=Deal._meta.db_table,
        lead_key="l.domain_key = %(domain)s" if domain_key else "l.name_key = %(name)s",
        account_condition=condition,
        holder_condition=_LIVE if live else _AS_OF,
        # Now, one open registration at most (a constraint); as of a past moment, the first.
        holder_order="" if live else "ORDER BY d.submitted_at",
        order=order,
        probe=probe,
    )


def _probable(
    partner_id: int, *, account_id: int | None, on: date, dskel: str, nskel: str
) -> tuple[int, str, str] | None:
    """The earliest open registration of another partner on a probably-same account that
    a manager has not judged a separate customer: its id and its account's keys."""
    shared = Q()
    if dskel:
        shared |= Q(account__domain_skeleton=dskel)
    if nskel:
        shared |= Q(account__name_skeleton=nskel)
    candidates = (
        Deal.objects.filter(shared, status__in=OPEN_STATUSES)
        .filter(Q(expires_on__isnull=True) | Q(expires_on__gte=on))
        .exclude(partner_id=partner_id)
    )
    if account_id is not None:
        candidates = candidates.exclude(account_id=account_id).exclude(
            account__separate_from=account_id
        )
    return (
        candidates.order_by("submitted_at", "pk")
        .values_list("pk", "account__domain_key", "account__name_key")
        .first()
    )


def protecting_deal(account_id: int, *, at: datetime, live: bool) -> Deal | None:
    """The registration protecting an account (when the check found one), with its partner."""
    deals = protecting(at=at, live=live, account=account_id)
    return deals.select_related("partner").order_by("submitted_at").first()


def deals_visible_to(user) -> QuerySet[Deal]:
    return scope_to_user(
        Deal.objects.select_related(
            "partner__program", "account", "submitted_by", "review_match__partner"
        ).prefetch_related("products"),
        user,
    )


# What the portal's deal list shows of each registration, and nothing more: the list is
# the partner's most visited page and its rows are the widest table (bench/load.py).
LIST_FIELDS = (
    "id",
    "partner_id",
    "customer_name",
    "amount",
    "currency",
    "amount_reporting",
    "status",
    "submitted_at",
    "expires_on",
    "extended",
    "partner_credit",
    "closed_amount",
    "closed_amount_reporting",
    "direct_conflict",
    "needs_review",
)


def deal_list_for(user, *, status: str = "") -> QuerySet[Deal]:
    """The registrations the user may see, newest first, with the list's columns only;
    ``status`` (a DealStatus value) narrows it. The (partner, submitted_at) index serves
    the order; (partner, status, closed_on) the rarer statuses."""
    deals = scope_to_user(Deal.objects.only(*LIST_FIELDS), user)
    if status in DealStatus.values:
        deals = deals.filter(status=status)
    return deals.order_by("-submitted_at", "-pk")


def deal_for_user(user, deal_id, *, for_update: bool = False) -> Deal:
    """The deal if the user may see it; 404 otherwise."""
    queryset = deals_visible_to(user)
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    try:
        return queryset.get(pk=int(deal_id))
    except (Deal.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such registration.") from exc


def conflicts_visible_to(user) -> QuerySet[ConflictCase]:
    return scope_to_user(
        ConflictCase.objects.select_related(
            "partner", "other_partner", "account", "deal", "other_deal", "resolved_by"
        ),
        user,
    )


def revenue_by_partner(partner_ids: Iterable[int], start: date, end: date) -> dict[int, Decimal]:
    """Partner credit of won deals closed in [start, end], per partner (RULEBOOK §1)."""
    rows = (
        Deal.objects.filter(
            partner_id__in=list(partner_ids),
            status=DealStatus.WON,
            closed_on__range=(start, end),
        )
        .values("partner_id")
        .annotate(revenue=Sum("partner_credit"))
    )
    return {row["partner_id"]: row["revenue"] or Decimal("0") for row in rows}


def wins_by_partner(partner_ids, start: date, end: date) -> dict[int, dict]:
    """Won deals closed in [start, end] per partner: revenue (partner credit) and new-logo
    wins, in one grouped query. ``partner_ids`` may be a list or a subquery."""
    rows = (
        Deal.objects.filter(
            partner_id__in=partner_ids, status=DealStatus.WON, closed_on__range=(start, end)
        )
        .values("partner_id")
        .annotate(
            revenue=Sum("partner_credit"),
            new_logos=Count("id", filter=Q(deal_type="new_logo")),
        )
        .order_by()
    )
    return {
        row["partner_id"]: {
            "revenue": row["revenue"] or Decimal("0"),
            "new_logos": row["new_logos"],
        }
        for row in rows
    }


def pipeline_by_partner(partner_ids: Iterable[int], as_of: date) -> dict[int, dict]:
    """Open registrations (pending or approved, unexpired, submitted by ``as_of``) per
    partner: count and amount."""
    _, next_day = day_span(as_of, as_of)
    rows = (
        Deal.objects.filter(
            partner_id__in=list(partner_ids), status__in=OPEN_STATUSES, submitted_at__lt=next_day
        )
        .filter(Q(expires_on__isnull=True) | Q(expires_on__gte=as_of))
        .values("partner_id")
        .annotate(count=Count("id"), amount=Sum("amount_reporting"))
    )
    return {
        row["partner_id"]: {"count": row["count"], "amount": row["amount"] or Decimal("0")}
        for row in rows
    }


def day_span(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, the day after end 00:00) in the site's time zone, for datetime columns."""
    from datetime import time, timedelta

    from django.utils import timezone

    zone = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=zone),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone),
    )


def deal_figures(
    partner_ids=None,
    *,
    quarter: tuple[date, date],
    previous: tuple[date, date],
    trailing: tuple[date, date],
    as_of: date,
    recent: tuple[date, date],
    year: tuple[date, date],
) -> dict[int, dict]:
    """Every deal-based input of the quarter close and of the red flags, per partner, in
    one grouped pass over the deals (conditional aggregates).

    ``partner_ids`` may be a list or a queryset of ids (used as a subquery); ``None``: every
    partner with a deal that counts (the caller picks the partners it needs, which spares
    the pass a join). ``latest_submitted`` is the latest registration submitted within
    ``recent`` (``None`` if there is none). ``previous`` is the quarter before ``quarter``
    (its won revenue sizes the quarter's growth award). Only the deals that some figure
    counts are aggregated.
    """
    from django.db.models import Max

    q_low, q_high = day_span(*quarter)
    r_low, r_high = day_span(*recent)
    y_low, y_high = day_span(*year)
    won = Q(status=DealStatus.WON)
    won_in_quarter = won & Q(closed_on__range=quarter)
    won_in_previous = won & Q(closed_on__range=previous)
    won_in_trailing = won & Q(closed_on__range=trailing)
    open_now = Q(status__in=OPEN_STATUSES) & (Q(expires_on__isnull=True) | Q(expires_on__gte=as_of))
    submitted_in_quarter = Q(submitted_at__gte=q_low, submitted_at__lt=q_high)
    submitted_recently = Q(submitted_at__gte=r_low, submitted_at__lt=r_high)
    submitted_in_year = Q(submitted_at__gte=y_low, submitted_at__lt=y_high)
    # CSAT answers given in a span (their survey date, RULEBOOK §4): counted and summed
    # over ``csat`` (nulls left out).
    csat_in_quarter = Q(csat_surveyed_on__range=quarter)
    csat_in_year = Q(csat_surveyed_on__range=year)
    # Every deal some figure counts, and a few more: the spans merged, the cheapest and
    # most often true test first (each figure filters exactly for itself).
    closed = (min(quarter[0], previous[0], trailing[0]), max(quarter[1], previous[1], trailing[1]))
    counted = (
        Q(submitted_at__gte=min(q_low, r_low, y_low), submitted_at__lt=max(q_high, r_high, y_high))
        | won & Q(closed_on__range=closed)
        | Q(csat_surveyed_on__range=(min(quarter[0], year[0]), max(quarter[1], year[1])))
        | open_now
    )
    deals = Deal.objects.filter(counted)
    if partner_ids is not None:
        deals = deals.filter(partner_id__in=partner_ids)
    rows = (
        deals.values("partner_id")
        .annotate(
            quarter_revenue=Sum("partner_credit", filter=won_in_quarter),
            quarter_new_logos=Count("id", filter=won_in_quarter & Q(deal_type="new_logo")),
            previous_revenue=Sum("partner_credit", filter=won_in_previous),
            trailing_revenue=Sum("partner_credit", filter=won_in_trailing),
            new_logos=Count("id", filter=won_in_trailing & Q(deal_type="new_logo")),
            approved_in_quarter=Count(
                "id", filter=submitted_in_quarter & Q(approved_at__isnull=False)
            ),
            csat_quarter_n=Count("csat", filter=csat_in_quarter),
            csat_quarter_sum=Sum("csat", filter=csat_in_quarter),
            open_registrations=Count("id", filter=open_now),
            latest_submitted=Max("submitted_at", filter=submitted_recently),
            year_registrations=Count("id", filter=submitted_in_year),
            year_direct=Count("id", filter=submitted_in_year & Q(direct_conflict=True)),
            csat_year_n=Count("csat", filter=csat_in_year),
            csat_year_sum=Sum("csat", filter=csat_in_year),
        )
        .order_by()
    )
    return {row["partner_id"]: row for row in rows}


def _strategic_product() -> QuerySet:
    """The outer query's deal carries a strategic product line (for ``Exists``)."""
    return Deal.products.through.objects.filter(deal_id=OuterRef("pk"), product__strategic=True)


def strategic_wins_by_partner(partner_ids, start: date, end: date) -> dict[int, int]:
    """Wins closed in [start, end] with a strategic product, per partner — asked only when
    some tier requires them (preset 002), since it is the costliest of the close's inputs."""
    from partners.models import Tier

    if not Tier.objects.filter(strategic_wins_required__gt=0).exists():
        return {}
    rows = (
        Deal.objects.filter(
            Exists(_strategic_product()),
            partner_id__in=partner_ids if isinstance(partner_ids, QuerySet) else list(partner_ids),
            status=DealStatus.WON,
            closed_on__range=(start, end),
        )
        .values("partner_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["partner_id"]: row["n"] for row in rows}


def won_deal_facts(wins: QuerySet[Deal]) -> list[tuple[int, int, WonDeal]]:
    """What each won deal of ``wins`` earns by (RULEBOOK §6), as the money engine takes it:
    (deal id, partner id, facts), in one query whatever their number. A deal is its
    partner's first win if no win of that partner was recorded before it: by when the
    win was recorded, not by the close date a partner reports, so a win dated back
    cannot earn a second first-deal SPIFF, and the answer never changes later."""
    earlier = Deal.objects.filter(partner_id=OuterRef("partner_id"), status=DealStatus.WON).filter(
        Q(closed_at__lt=OuterRef("closed_at"))
        | Q(closed_at=OuterRef("closed_at"), pk__lt=OuterRef("pk"))
        # Wins recorded before the time was kept come first, by id.
        | Q(closed_at__isnull=True, pk__lt=OuterRef("pk"))
    )
    rows = (
        wins.filter(status=DealStatus.WON)
        .annotate(strategic=Exists(_strategic_product()), earlier_win=Exists(earlier))
        .order_by()
        .values_list(
            "pk",
            "partner_id",
            "closed_amount_reporting",
            "partner_credit",
            "deal_type",
            "submitted_at",
            "closed_on",
            "strategic",
            "earlier_win",
            "contract_years",
            "commission",
        )
    )
    zone = timezone.get_current_timezone()  # once: a quarter's wins are 100,000s of rows
    return [
        (
            pk,
            partner_id,
            WonDeal(
                amount=amount,
                partner_credit=credit,
                deal_type=deal_type,
                days_to_win=(closed_on - submitted_at.astimezone(zone).date()).days,
                strategic=strategic,
                first_win=not earlier_win,
                contract_years=contract_years,
                commission=commission or Decimal(0),
            ),
        )
        for (
            pk,
            partner_id,
            amount,
            credit,
            deal_type,
            submitted_at,
            closed_on,
            strategic,
            earlier_win,
            contract_years,
            commission,
        ) in rows
    ]


# ---------------------------------------------------------------- quarter figures

# Revenue the partner did not source alone: a direct-conflict win or a co-sell split.
ASSISTED = Q(direct_conflict=True) | Q(compensation_model="co_sell")


def open_on(as_of: date) -> Q:
    """Registrations open on ``as_of``: submitted by then, not rejected, not closed by then,
    protection not lapsed (pending ones have none yet)."""
    _, next_day = day_span(as_of, as_of)
    return (
        Q(submitted_at__lt=next_day)
        & ~Q(status=DealStatus.REJECTED)
        & (Q(closed_on__isnull=True) | Q(closed_on__gt=as_of))
        & (Q(expires_on__isnull=True) | Q(expires_on__gte=as_of))
    )


def _money_sum(field: str, **extra):
    """A money column summed, zero over no rows."""
    from django.db.models import DecimalField, Value
    from django.db.models.functions import Coalesce

    zero = Value(Decimal("0"), output_field=DecimalField(**money_field_kwargs()))
    return Coalesce(Sum(field, **extra), zero)


def outcome_figures() -> dict:
    """Aggregates of the deals closed (won or lost) in a span, as a ``DealQuarter`` row
    holds them: for ``.aggregate()`` or ``.values(...).annotate()``."""
    won = Q(status=DealStatus.WON)
    return {
        "won_deals": Count("pk", filter=won),
        "won_priced": Count("closed_amount_reporting", filter=won),
        "won_amount": _money_sum("closed_amount_reporting", filter=won),
        "won_credit": _money_sum("partner_credit", filter=won),
        "sourced_amount": _money_sum("closed_amount_reporting", filter=won & ~ASSISTED),
        "assisted_amount": _money_sum("closed_amount_reporting", filter=won & ASSISTED),
        "lost_deals": Count("pk", filter=Q(status=DealStatus.LOST)),
        "won_direct": Count("pk", filter=won & Q(direct_conflict=True)),
        "closed_direct": Count("pk", filter=Q(direct_conflict=True)),
    }


def closed_in(start: date, end: date) -> QuerySet[Deal]:
    """Deals won or lost with a close date in [start, end]."""
    return Deal.objects.filter(
        status__in=(DealStatus.WON, DealStatus.LOST), closed_on__range=(start, end)
    )


def pipeline_figures() -> dict:
    """Aggregates of the registrations open on a day (``open_on``), as a row holds them."""
    return {"pipeline_amount": _money_sum("amount_reporting"), "pipeline_deals": Count("pk")}


def registrations_past_approval_sla(now: datetime) -> int:
    """Pending registrations whose approval was due before ``now`` (submitted longer ago
    than their program's approval SLA, ``rules.auto_approval_cutoff``), held for review or
    not. Two queries: the programs' SLAs (a handful of rows), then one count over the
    pending registrations (``status`` is indexed; few are pending at a time)."""
    overdue = Q()
    for hours in set(Program.objects.values_list("registration_sla_hours", flat=True)):
        cutoff = rules.auto_approval_cutoff(now, hours)
        overdue |= Q(partner__program__registration_sla_hours=hours, submitted_at__lt=cutoff)
    if not overdue:
        return 0
    return Deal.objects.filter(overdue, status=DealStatus.PENDING).count()


# Rows of each list of the deal review panel.
REVIEW_ROWS = 10


def deal_review_context(deal: Deal, *, rows: int = REVIEW_ROWS) -> dict:
    """What a manager needs beside a registration to decide it (the admin's decision
    panel): the matched account, and for that account and the one it is probably the same
    customer as (``review_match``), the other registrations — any partner's, which only
    staff see — and the CRM leads. Two bounded queries whatever the history; none when the
    registration matched no account."""
    match = deal.review_match
    account_ids = {pk for pk in (deal.account_id, match.account_id if match else None) if pk}
    if not account_ids:
        return {"account": deal.account, "match": match, "others": [], "leads": []}
    others = list(
        Deal.objects.filter(Q(account_id__in=account_ids) | Q(pk=deal.review_match_id))
        .exclude(pk=deal.pk)
        .select_related("partner", "account")
        .only(
            "pk",
            "customer_name",
            "customer_domain",
            "amount",
            "currency",
            "status",
            "reason",
            "needs_review",
            "submitted_at",
            "expires_on",
            "partner__name",
            "account__name",
            "account__domain",
        )
        .order_by("-submitted_at", "-pk")[:rows]
    )
    leads = list(
        Lead.objects.filter(account_id__in=account_ids)
        .select_related("partner")
        .only("pk", "company_name", "domain", "source", "created_at", "partner__name")
        .order_by("-created_at", "-pk")[:rows]
    )
    return {"account": deal.account, "match": match, "others": others, "leads": leads}
