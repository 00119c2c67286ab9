"""Market development funds (RULEBOOK §7): funds sized by tier, activity requests
pre-approved against them, and the claims that reimburse them.

Money rows are locked in one order (fund, then request, then claim) before they change,
so concurrent approvals can never overspend a fund or pay twice.
"""

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, gettext_noop
from simple_history.utils import bulk_update_with_history

from enablement.services import onboarding_event
from partners.models import NoticeKind, Partner, Program, Tier, User
from partners.services import notice_send
from prm.audit import audited
from prm.deferred_text import amount_value, date_value, text_stored
from prm.quarters import Quarter

from .. import rules
from ..models import (
    EntryKind,
    MdfClaim,
    MdfClaimStatus,
    MdfFund,
    MdfProof,
    MdfRequest,
    MdfRequestStatus,
)
from ..proofs import ProofFile, check_proofs
from .common import IncentiveError, _wrong_state
from .ledger import _record_owed

# MDF activities a deal may name as its source: approved ones and those claimed since.
MDF_SOURCING_STATUSES = (
    MdfRequestStatus.APPROVED,
    MdfRequestStatus.CLAIMED,
    MdfRequestStatus.REIMBURSED,
)


# ---------------------------------------------------------------- MDF funds


def fiscal_year_of(program: Program, day: date) -> int:
    return Quarter.containing(day, start_month=program.fiscal_year_start_month).year


def _fund_basis(tier, prior_revenue: Decimal) -> tuple[str, str, dict]:
    """How a tier sizes a fund: (the text in English, its untranslated source, its values),
    shown in the reader's language (``MdfFund.shown_basis``)."""
    values = {"tier": tier.name}
    if tier.mdf_fund is not None:
        values["amount"] = f"{tier.mdf_fund:,.0f}"
        if tier.mdf_match_ratio:
            values["ratio"] = f"{tier.mdf_match_ratio:g}"
            source = gettext_noop("%(tier)s: fixed %(amount)s a year, matched %(ratio)s:1")
        else:
            source = gettext_noop("%(tier)s: fixed %(amount)s a year")
    elif tier.mdf_rate is not None:
        values |= {"rate": f"{tier.mdf_rate:.0%}", "revenue": amount_value(prior_revenue)}
        source = gettext_noop("%(tier)s: %(rate)s of %(revenue)s prior-year revenue")
    else:
        source = gettext_noop("%(tier)s: no MDF")
    return text_stored(source, values), source, values


def mdf_funds_open(
    *,
    program: Program,
    fiscal_year: int,
    prior_revenue: dict[int, Decimal],
    tiers: dict[int, int] | None = None,
) -> int:
    """Open the fund for ``fiscal_year`` of each partner of ``prior_revenue``, sized by its
    tier (RULEBOOK §7) on the prior 4 quarters' revenue given. A fund that exists keeps
    its size, except one opened empty (its tier had no MDF then) that the partner's tier
    now grants. ``tiers``: each partner's tier id, when the caller knows it (default: as
    stored).

    Called by the quarter close with the trailing revenue it computed and the tiers it
    decided; safe to rerun.
    """
    program_tiers = {tier.pk: tier for tier in Tier.objects.filter(program=program)}
    if tiers is None:
        tiers = dict(Partner.objects.filter(program=program).values_list("pk", "tier_id"))
    partners = [(pk, program_tiers[tiers[pk]]) for pk in prior_revenue if pk in tiers]
    existing = {
        partner_id: (pk, amount, reserved + reimbursed)
        for partner_id, pk, amount, reserved, reimbursed in MdfFund.objects.filter(
            partner__program=program, fiscal_year=fiscal_year
        ).values_list("partner_id", "pk", "amount", "reserved", "reimbursed")
    }
    fresh, grown = [], []
    for partner_id, tier in partners:
        revenue = prior_revenue.get(partner_id, Decimal(0))
        amount = rules.mdf_fund_size(rate=tier.mdf_rate, fixed=tier.mdf_fund, prior_revenue=revenue)
        fund = existing.get(partner_id)
        if fund is None:
            fresh.append((partner_id, amount, tier.mdf_match_ratio, *_fund_basis(tier, revenue)))
        elif fund[1] == 0 and amount > 0 and fund[2] == 0:
            grown.append((fund[0], amount, tier.mdf_match_ratio, *_fund_basis(tier, revenue)))
    stamp = timezone.now()
    with transaction.atomic():
        opened = MdfFund.objects.bulk_create(
            [
                MdfFund(
                    partner_id=partner_id,
                    fiscal_year=fiscal_year,
                    amount=amount,
                    match_ratio=ratio,
                    basis=basis,
                    basis_message=source,
                    basis_params=values,
                    created_at=stamp,
                )
                for partner_id, amount, ratio, basis, source, values in fresh
            ]
        )
        MdfFund.history.bulk_history_create(
            opened, default_change_reason="Opened with its tier's MDF", default_date=stamp
        )
        if grown:
            funds = MdfFund.objects.in_bulk([pk for pk, *_ in grown])
            for pk, amount, ratio, basis, source, values in grown:
                funds[pk].amount, funds[pk].match_ratio, funds[pk].basis = amount, ratio, basis
                funds[pk].basis_message, funds[pk].basis_params = source, values
            bulk_update_with_history(
                list(funds.values()),
                MdfFund,
                ["amount", "match_ratio", "basis", "basis_message", "basis_params"],
                default_change_reason="Sized by the tier's MDF",
                default_date=stamp,
            )
    return len(fresh) + len(grown)


@audited
@transaction.atomic
def mdf_fund_set(*, partner: Partner, fiscal_year: int, amount, by: User, basis: str) -> MdfFund:
    """A manager opens or resizes a fund by hand; never below what it already holds."""
    amount = Decimal(str(amount))
    fund = (
        MdfFund.objects.select_for_update().filter(partner=partner, fiscal_year=fiscal_year).first()
    )
    if fund is None:
        return MdfFund.objects.create(
            partner=partner,
            fiscal_year=fiscal_year,
            amount=amount,
            match_ratio=partner.tier.mdf_match_ratio,
            basis=basis,
        )  # a manager's words: shown as typed
    if amount < fund.reserved + fund.reimbursed:
        raise ValidationError(
            {"amount": f"The fund already holds {fund.reserved + fund.reimbursed:,.2f}."}
        )
    fund.amount, fund.basis = amount, basis
    fund.basis_message, fund.basis_params = "", {}  # a manager's words: shown as typed
    fund._change_reason = f"Resized by {by}"
    fund.save()
    return fund


# ---------------------------------------------------------------- MDF requests


def _check_dates(starts_on: date, ends_on: date, today: date) -> None:
    if ends_on < starts_on:
        raise ValidationError({"ends_on": gettext("The activity must end on or after its start.")})
    if starts_on < today:
        raise ValidationError(
            {
                "starts_on": gettext(
                    "MDF needs approval before the activity starts; pick a future date."
                )
            }
        )


@audited
@transaction.atomic
def mdf_request_submit(
    *,
    partner: Partner,
    by: User,
    activity_type: str,
    title: str,
    planned_cost,
    starts_on: date,
    ends_on: date,
    expected_leads: int,
    description: str = "",
    campaign=None,
    today: date | None = None,
) -> MdfRequest:
    """Ask for pre-approval of an activity (RULEBOOK §7), optionally funding one of the
    partner's co-marketing campaigns."""
    today = today or timezone.localdate()
    if campaign is not None and campaign.partner_id != partner.pk:
        raise ValidationError({"campaign": gettext("Choose one of your own campaigns.")})
    _check_dates(starts_on, ends_on, today)
    program = partner.program
    year = fiscal_year_of(program, starts_on)
    fund = MdfFund.objects.filter(partner=partner, fiscal_year=year).first()
    if fund is None or fund.amount <= 0:
        raise IncentiveError(
            gettext("%(partner)s has no MDF fund for FY%(year)s%(basis)s.")
            % {"partner": partner, "year": year, "basis": f" ({fund.shown_basis})" if fund else ""}
            + " "
            + gettext("Funds open with the quarter close, by tier."),
            code="no_fund",
            status=400,
        )
    request = MdfRequest(
        partner=partner,
        fund=fund,
        activity_type=activity_type,
        title=(title or "").strip(),
        description=(description or "").strip(),
        planned_cost=Decimal(str(planned_cost)),
        starts_on=starts_on,
        ends_on=ends_on,
        expected_leads=expected_leads,
        campaign=campaign,
        claim_due_on=rules.mdf_claim_due_on(ends_on, program.mdf_claim_window_days),
        submitted_by=by,
    )
    request.full_clean()
    share = rules.vendor_share(fund.match_ratio)
    wanted = rules.mdf_reservation(request.planned_cost, share)
    if wanted > fund.available:
        raise IncentiveError(
            gettext("This activity needs %(wanted)s of MDF; the FY%(year)s fund has %(left)s left.")
            % {"wanted": f"{wanted:,.2f}", "year": year, "left": f"{fund.available:,.2f}"},
            code="fund_exhausted",
            status=400,
        )
    request.save()
    # An MDF activity is a co-marketing campaign: the first one completes that onboarding step.
    onboarding_event(
        partner=partner,
        event="first_campaign",
        on=today,
        note=f"MDF activity “{request.title}”",
    )
    return request


def _locked_request(request: MdfRequest) -> tuple[MdfFund, MdfRequest]:
    """Lock the fund, then the request: the one order every MDF write takes."""
    fund = MdfFund.objects.select_for_update().get(pk=request.fund_id)
    request = (
        MdfRequest.objects.select_for_update(of=("self",))
        .select_related("partner__program")
        .get(pk=request.pk)
    )
    return fund, request


@audited
@transaction.atomic
def mdf_request_approve(
    *, request: MdfRequest, by: User, reserve=None, note: str = ""
) -> MdfRequest:
    """Pre-approval: reserve the vendor's share of the planned cost (or less) on the fund."""
    fund, request = _locked_request(request)
    if request.status != MdfRequestStatus.SUBMITTED:
        raise _wrong_state(request, "approved")
    share = rules.vendor_share(fund.match_ratio)
    most = rules.mdf_reservation(request.planned_cost, share)
    amount = most if reserve in (None, "") else Decimal(str(reserve))
    if amount <= 0 or amount > most:
        raise ValidationError(
            {"reserve": f"Reserve more than 0 and at most {most:,.2f} (the vendor's share)."}
        )
    if amount > fund.available:
        raise IncentiveError(
            f"The fund has {fund.available:,.2f} left; {amount:,.2f} cannot be reserved.",
            code="fund_exhausted",
        )
    fund.reserved += amount
    fund._change_reason = f"Reserved for request {request.pk}"
    fund.save()
    request.approve(by=by, at=timezone.now(), reserved=amount, note=(note or "").strip())
    request._change_reason = "Approved"
    request.save()
    notice_send(
        partner=request.partner,
        level="success",
        kind=NoticeKind.MDF,
        message=gettext_noop(
            "MDF request “%(title)s” approved: %(amount)s reserved. File the claim by %(day)s."
        ),
        params={
            "title": request.title,
            "amount": amount_value(amount, request.partner.program.currency),
            "day": date_value(request.claim_due_on),
        },
        link=f"/portal/mdf/requests/{request.pk}/",
        email_subject=gettext_noop("Your MDF request is approved"),
    )
    return request


@audited
@transaction.atomic
def mdf_request_reject(*, request: MdfRequest, by: User, note: str) -> MdfRequest:
    if not (note or "").strip():
        raise ValidationError({"note": "Say why the request is rejected."})
    _, request = _locked_request(request)
    if request.status != MdfRequestStatus.SUBMITTED:
        raise _wrong_state(request, "rejected")
    request.reject(by=by, at=timezone.now(), note=note.strip())
    request._change_reason = "Rejected"
    request.save()
    notice_send(
        partner=request.partner,
        level="warning",
        kind=NoticeKind.MDF,
        message=gettext_noop("MDF request “%(title)s” was not approved: %(reason)s"),
        params={"title": request.title, "reason": note.strip()[:300]},
        link=f"/portal/mdf/requests/{request.pk}/",
        email_subject=gettext_noop("Your MDF request was not approved"),
    )
    return request


@audited
@transaction.atomic
def mdf_request_cancel(*, request: MdfRequest, by: User) -> MdfRequest:
    """The partner withdraws a request not yet claimed; its reservation is released."""
    fund, request = _locked_request(request)
    if request.status not in (MdfRequestStatus.SUBMITTED, MdfRequestStatus.APPROVED):
        raise _wrong_state(request, "cancelled")
    fund.reserved -= request.reserved_amount
    fund._change_reason = f"Request {request.pk} cancelled"
    fund.save()
    request.cancel()
    request._change_reason = f"Cancelled by {by}"
    request.save()
    return request


def mdf_expire_lapsed(*, today: date | None = None) -> int:
    """Approved requests whose claim window closed without a claim release their funds."""
    today = today or timezone.localdate()
    count = 0
    lapsed = MdfRequest.objects.filter(
        status=MdfRequestStatus.APPROVED, claim_due_on__lt=today
    ).only("pk", "fund_id")
    for found in lapsed:
        with transaction.atomic():
            fund, request = _locked_request(found)
            if request.status != MdfRequestStatus.APPROVED or request.claim_due_on >= today:
                continue
            fund.reserved -= request.reserved_amount
            fund._change_reason = f"Request {request.pk}: claim window closed"
            fund.save()
            request.expire()
            request._change_reason = "Claim window closed"
            request.save()
            count += 1
    return count


# ---------------------------------------------------------------- MDF claims


@audited
def mdf_claim_submit(
    *,
    request: MdfRequest,
    by: User,
    actual_cost,
    leads_generated: int,
    files: list[ProofFile],
    notes: str = "",
    today: date | None = None,
) -> MdfClaim:
    """Proof of performance, due within 30 days after the activity ends.

    Everything is checked before anything is written; the files are stored inside the
    transaction and removed again if it fails, so a refusal leaves nothing behind.
    """
    today = today or timezone.localdate()
    request = MdfRequest.objects.select_related("partner").get(pk=request.pk)
    actual = Decimal(str(actual_cost))
    if actual <= 0:
        raise ValidationError({"actual_cost": gettext("The actual cost must be more than zero.")})
    if request.status not in (MdfRequestStatus.APPROVED, MdfRequestStatus.CLAIMED):
        raise _wrong_state(request, "claimed")
    if request.status == MdfRequestStatus.CLAIMED:
        raise IncentiveError(
            gettext("A claim for this activity is already filed."), code="already_claimed"
        )
    if today < request.ends_on:
        raise IncentiveError(
            gettext("The activity ends on %(day)s; file the claim after it.")
            % {"day": date_format(request.ends_on)},
            code="too_early",
            status=400,
        )
    if today > request.claim_due_on:
        raise IncentiveError(
            gettext("The claim was due by %(day)s (%(iso)s).")
            % {"day": date_format(request.claim_due_on), "iso": request.claim_due_on.isoformat()},
            code="claim_late",
            status=400,
        )
    check_proofs(files)
    stored: list[MdfProof] = []
    try:
        with transaction.atomic():
            _, request = _locked_request(request)
            if request.status != MdfRequestStatus.APPROVED:
                raise IncentiveError(
                    gettext("A claim for this activity is already filed."), code="already_claimed"
                )
            try:
                with transaction.atomic():
                    claim = MdfClaim.objects.create(
                        request=request,
                        partner=request.partner,
                        actual_cost=actual,
                        leads_generated=leads_generated,
                        notes=(notes or "").strip(),
                        submitted_by=by,
                    )
            except IntegrityError as exc:
                raise IncentiveError(
                    gettext("A claim for this activity is already filed."), code="already_claimed"
                ) from exc
            for upload in files:
                proof = MdfProof(
                    claim=claim, name=upload.name, size=upload.size, content_type=upload.kind
                )
                proof.file.save(upload.name, upload.content, save=False)
                stored.append(proof)
                proof.save()
            request.file_claim()
            request._change_reason = "Claim filed"
            request.save()
    except Exception:
        for proof in stored:
            proof.file.delete(save=False)
        raise
    return claim


def _locked_claim_chain(claim: MdfClaim) -> tuple[MdfFund, MdfRequest, MdfClaim]:
    fund, request = _locked_request(claim.request)
    claim = MdfClaim.objects.select_for_update().get(pk=claim.pk)
    return fund, request, claim


@audited
@transaction.atomic
def mdf_claim_approve(*, claim: MdfClaim, by: User) -> MdfClaim:
    """Reimburse min(reserved, actual × vendor share, remaining fund); one ledger entry."""
    fund, request, claim = _locked_claim_chain(claim)
    if claim.status != MdfClaimStatus.SUBMITTED:
        raise _wrong_state(claim, "approved")
    held_by_others = fund.reserved - request.reserved_amount
    amount = rules.mdf_reimbursement(
        reserved=request.reserved_amount,
        actual_cost=claim.actual_cost,
        share=rules.vendor_share(fund.match_ratio),
        remaining=fund.amount - fund.reimbursed - held_by_others,
    )
    now = timezone.now()
    fund.reserved -= request.reserved_amount
    fund.reimbursed += amount
    fund._change_reason = f"Claim {claim.pk} reimbursed"
    fund.save()
    claim.approve(by=by, at=now, reimbursement=amount)
    claim._change_reason = "Approved"
    claim.save()
    request.reimburse()
    request._change_reason = "Reimbursed"
    request.save()
    _record_owed(
        partner=request.partner,
        kind=EntryKind.MDF,
        code="mdf_reimbursement",
        description=rules.described(gettext_noop("MDF: %(title)s"), title=request.title),
        amount=amount,
        source=request,
        key=f"mdf_request:{request.pk}",
        by=by,
        reason="MDF claim approved",
    )
    notice_send(
        partner=request.partner,
        level="success",
        kind=NoticeKind.MDF,
        message=gettext_noop("MDF claim for “%(title)s” approved: %(amount)s reimbursed."),
        params={
            "title": request.title,
            "amount": amount_value(amount, request.partner.program.currency),
        },
        link=f"/portal/mdf/requests/{request.pk}/",
        email_subject=gettext_noop("Your MDF claim is approved"),
    )
    return claim


@audited
@transaction.atomic
def mdf_claim_reject(*, claim: MdfClaim, by: User, reason: str) -> MdfClaim:
    """Rejected: the partner may file again while the window is open; after it, the
    reservation is released."""
    if not (reason or "").strip():
        raise ValidationError({"reason": "Say why the claim is rejected."})
    fund, request, claim = _locked_claim_chain(claim)
    if claim.status != MdfClaimStatus.SUBMITTED:
        raise _wrong_state(claim, "rejected")
    claim.reject(by=by, at=timezone.now(), reason=reason.strip())
    claim._change_reason = "Rejected"
    claim.save()
    request.reopen()
    if timezone.localdate() > request.claim_due_on:
        fund.reserved -= request.reserved_amount
        fund._change_reason = f"Request {request.pk}: claim rejected after its window"
        fund.save()
        request.expire()
    request._change_reason = gettext_noop("Claim rejected")
    request.save()
    notice_send(
        partner=request.partner,
        level="warning",
        kind=NoticeKind.MDF,
        message=gettext_noop("MDF claim for “%(title)s” was rejected: %(reason)s"),
        params={"title": request.title, "reason": reason.strip()[:300]},
        link=f"/portal/mdf/requests/{request.pk}/",
        email_subject=gettext_noop("Your MDF claim was rejected"),
    )
    return claim
