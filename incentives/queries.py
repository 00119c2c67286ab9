"""Reads of the money engine, shared by the portal, the API, the admin and the jobs."""

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, DecimalField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from partners.models import Partner
from partners.queries import scope_to_user
from prm.downloads import csv_text
from prm.money import money_field_kwargs

from . import rules
from .models import (
    ClaimStatus,
    Contribution,
    EntryKind,
    EntryStatus,
    IncentiveClaim,
    LedgerEntry,
    MdfClaim,
    MdfFund,
    MdfRequest,
)

MONEY = DecimalField(**money_field_kwargs())
ZERO = Value(Decimal("0"), output_field=MONEY)


def ledger_visible_to(user) -> QuerySet[LedgerEntry]:
    return scope_to_user(
        LedgerEntry.objects.select_related("partner", "source_type"), user
    ).order_by("-earned_on", "-pk")


def claims_visible_to(user) -> QuerySet[IncentiveClaim]:
    return scope_to_user(
        IncentiveClaim.objects.select_related("partner", "partner__program", "submitted_by"),
        user,
    ).order_by("-submitted_at", "-pk")


def contributions_visible_to(user) -> QuerySet[Contribution]:
    return scope_to_user(Contribution.objects.select_related("partner"), user)


def funds_visible_to(user) -> QuerySet[MdfFund]:
    return scope_to_user(MdfFund.objects.select_related("partner"), user)


def mdf_requests_visible_to(user) -> QuerySet[MdfRequest]:
    return scope_to_user(
        MdfRequest.objects.select_related("partner", "fund", "partner__program"), user
    ).order_by("-submitted_at", "-pk")


def mdf_claims_visible_to(user) -> QuerySet[MdfClaim]:
    return (
        scope_to_user(MdfClaim.objects.select_related("partner", "request", "request__fund"), user)
        .prefetch_related("proofs")
        .order_by("-submitted_at", "-pk")
    )


def ledger_totals(entries: QuerySet[LedgerEntry]) -> dict[str, Decimal]:
    """Sum of the entries by status, in one grouped query: accrued, approved, paid, void."""
    totals = {status: Decimal("0") for status in EntryStatus.values}
    for row in entries.order_by().values("status").annotate(total=Sum("amount")):
        totals[row["status"]] = row["total"]
    return totals


def claimable_entries(partner: Partner, *, today: date) -> QuerySet[LedgerEntry]:
    """SPIFFs and bonuses the partner may still claim today."""
    return LedgerEntry.objects.filter(
        partner=partner,
        kind__in=(EntryKind.SPIFF, EntryKind.BONUS),
        status=EntryStatus.ACCRUED,
        claim__isnull=True,
        claim_by__gte=today,
    ).order_by("claim_by", "pk")


def fund_for(partner: Partner, fiscal_year: int) -> MdfFund | None:
    return MdfFund.objects.filter(partner=partner, fiscal_year=fiscal_year).first()


SOURCING = ("pending", "approved")  # open registrations count as pipeline


def mdf_sourced(funds: QuerySet[MdfFund]) -> dict:
    """Open pipeline (estimated amounts) and revenue won (partner credit) of the deals that
    the activities of ``funds`` sourced, and how many deals, in one query. Deals point at
    their MDF activity (``sourced_deals``)."""
    deals = "requests__sourced_deals"
    # Only the deals an activity sourced: named by the join and by ``mdf_request IS NOT
    # NULL`` (an index range of the few), else the planner hashes every deal of the book
    # to find them (bench/pages.py: 820 ms on 2,000,000 deals, 0.1 ms with it).
    sourced = funds.order_by().filter(**{f"{deals}__mdf_request__isnull": False})
    return sourced.aggregate(
        pipeline=Coalesce(
            Sum(f"{deals}__amount_reporting", filter=Q(**{f"{deals}__status__in": SOURCING})), ZERO
        ),
        revenue=Coalesce(
            Sum(f"{deals}__partner_credit", filter=Q(**{f"{deals}__status": "won"})), ZERO
        ),
        deals=Count(deals),
    )


def mdf_return(funds: QuerySet[MdfFund]) -> dict:
    """MDF return over ``funds`` as RULEBOOK §7's two figures, in two queries: the sourced
    pipeline and revenue (``mdf_sourced``), MDF used (reimbursed plus still reserved on
    the funds) and each of ``pipeline_return`` and ``revenue_return`` (÷ used)."""
    figures = mdf_sourced(funds)
    money = funds.order_by().aggregate(
        reimbursed=Coalesce(Sum("reimbursed"), ZERO), reserved=Coalesce(Sum("reserved"), ZERO)
    )
    used = money["reimbursed"] + money["reserved"]
    ratios = rules.mdf_return(pipeline=figures["pipeline"], revenue=figures["revenue"], used=used)
    return (
        figures
        | money
        | {
            "used": used,
            "pipeline_return": ratios.pipeline,
            "revenue_return": ratios.revenue,
        }
    )


def approved_for_payment(*, due_from: date | None, due_to: date | None) -> QuerySet[LedgerEntry]:
    """Approved entries falling due in the period: what finance pays next."""
    entries = LedgerEntry.objects.filter(status=EntryStatus.APPROVED).select_related(
        "partner", "claim"
    )
    if due_from:
        entries = entries.filter(due_on__gte=due_from)
    if due_to:
        entries = entries.filter(due_on__lte=due_to)
    return entries.order_by("due_on", "partner__name", "pk")


EXPORT_COLUMNS = [
    "entry",
    "partner_id",
    "partner",
    "kind",
    "code",
    "description",
    "amount",
    "currency",
    "quarter",
    "earned_on",
    "approved_on",
    "due_on",
    "claim",
    "idempotency_key",
    "partner_amount",
    "partner_currency",
]


def ledger_csv(entries: QuerySet[LedgerEntry]) -> str:
    """The entries as CSV for a payment run; the entry id lets finance mark them paid.
    Text that a spreadsheet would run (a partner named ``=HYPERLINK(…)``) is neutralised
    by ``csv_text``; amounts stay numbers."""
    cent = Decimal("0.01")
    # Read in one transaction: the chunked cursor then lives in it, which holds behind a
    # pooler in transaction mode (PgBouncer) as on a direct connection.
    with transaction.atomic():
        return csv_text(
            EXPORT_COLUMNS,
            (
                [
                    entry.pk,
                    entry.partner_id,
                    entry.partner.name,
                    entry.kind,
                    entry.code,
                    entry.shown_description,
                    entry.amount.quantize(cent),
                    entry.currency,
                    entry.quarter,
                    entry.earned_on.isoformat(),
                    entry.approved_at.date().isoformat() if entry.approved_at else "",
                    entry.due_on.isoformat() if entry.due_on else "",
                    entry.claim_id or "",
                    entry.idempotency_key,
                    entry.partner_amount.quantize(cent),
                    entry.partner_currency,
                ]
                for entry in entries.iterator(chunk_size=2000)
            ),
        )


def approved_contributions(program_id: int, start: date, end: date) -> dict[int, int]:
    """Approved community contributions per partner decided in the period (Community MVP)."""
    rows = (
        Contribution.objects.filter(
            partner__program_id=program_id,
            kind="community",
            status="approved",
            decided_at__date__gte=start,
            decided_at__date__lte=end,
        )
        .values("partner_id")
        .annotate(n=Count("pk"))
    )
    return {row["partner_id"]: row["n"] for row in rows}


def claims_past_verification_sla(today: date) -> int:
    """Claims still awaiting verification after their verify-by day (RULEBOOK §6): one
    count on the (status, verify_by) index."""
    return IncentiveClaim.objects.filter(status=ClaimStatus.SUBMITTED, verify_by__lt=today).count()
