"""Portal pages of the money engine: earnings (the ledger) and claims, MDF, contributions."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from partners.models import Partner
from partners.queries import partner_id_of
from prm.downloads import stored_file
from prm.quarters import Quarter
from prm.roles import Role, role_of
from prm.views import role_required, scoped

from .forms import ContributionForm, DisputeForm, MdfClaimForm, MdfRequestForm
from .models import EntryKind, EntryStatus, IncentiveClaim, MdfProof, MdfRequest
from .proofs import proof_from_upload
from .queries import (
    claimable_entries,
    claims_visible_to,
    contributions_visible_to,
    fund_for,
    ledger_totals,
    ledger_visible_to,
    mdf_requests_visible_to,
    mdf_return,
)

# The module, not its functions: the views share the names of the services they call.
from .services import claims as claim_services
from .services import contributions as contribution_services
from .services import mdf as mdf_services
from .services.common import IncentiveError


def _partner(request) -> Partner:
    return Partner.objects.select_related("program", "tier").get(pk=partner_id_of(request.user))


def _partner_only(request) -> None:
    """Acting on the partner's behalf in the portal is for the partner's own people."""
    if role_of(request.user) != Role.PARTNER:
        raise PermissionDenied


def _refusal(request, exc) -> None:
    if isinstance(exc, IncentiveError):
        messages.error(request, exc.message)
    else:
        messages.error(request, " ".join(exc.messages))


# ---------------------------------------------------------------- earnings and claims


@role_required(Role.PARTNER)
def earnings(request) -> HttpResponse:
    """What the partner has earned, what it can still claim, and what is paid."""
    partner = _partner(request)
    today = timezone.localdate()
    entries = ledger_visible_to(request.user)
    totals = ledger_totals(entries)
    kind = request.GET.get("kind", "")
    status = request.GET.get("status", "")
    listed = entries
    if kind in EntryKind.values:
        listed = listed.filter(kind=kind)
    if status in EntryStatus.values:
        listed = listed.filter(status=status)
    return render(
        request,
        "incentives/earnings.html",
        {
            "partner": partner,
            "totals": totals,
            "claimable": claimable_entries(partner, today=today),
            "page": Paginator(listed, 25).get_page(request.GET.get("page")),
            "kinds": EntryKind.choices,
            "statuses": EntryStatus.choices,
            "kind": kind,
            "status": status,
            "today": today,
            "claims": claims_visible_to(request.user)[:5],
        },
    )


@role_required(Role.PARTNER)
def claim_new(request) -> HttpResponse:
    if request.method != "POST":
        return redirect("portal-earnings")
    partner = _partner(request)
    ids = [value for value in request.POST.getlist("entries") if value.isdigit()]
    try:
        claim = claim_services.claim_submit(
            partner=partner, entry_ids=ids, by=request.user, note=request.POST.get("note", "")
        )
    except (IncentiveError, ValidationError) as exc:
        _refusal(request, exc)
        return redirect("portal-earnings")
    messages.success(
        request,
        _("Claim %(number)s submitted. Your channel manager verifies it by %(day)s.")
        % {"number": claim.pk, "day": date_format(claim.verify_by)},
    )
    return redirect("portal-claim", pk=claim.pk)


@role_required(Role.PARTNER)
def claim_list(request) -> HttpResponse:
    claims = claims_visible_to(request.user)
    return render(
        request,
        "incentives/claims.html",
        {
            "page": Paginator(claims, 25).get_page(request.GET.get("page")),
            "today": timezone.localdate(),
        },
    )


def _claim_for(request, pk) -> IncentiveClaim:
    try:
        return claims_visible_to(request.user).get(pk=pk)
    except IncentiveClaim.DoesNotExist as exc:
        raise Http404("No such claim.") from exc


@scoped(pk=IncentiveClaim)
@role_required(*Role.values)
def claim_detail(request, pk: int) -> HttpResponse:
    claim = _claim_for(request, pk)
    return render(
        request,
        "incentives/claim.html",
        {
            "claim": claim,
            "entries": claim.entries.all(),
            "dispute_form": DisputeForm(),
            "dispute_by": claim_services.dispute_deadline(claim),
            "history": claim.history.select_related("history_user").order_by("-history_date"),
        },
    )


@scoped(pk=IncentiveClaim)
@role_required(*Role.values)
def claim_dispute(request, pk: int) -> HttpResponse:
    claim = _claim_for(request, pk)  # first: another partner's claim is a 404
    _partner_only(request)
    if request.method != "POST":
        return redirect("portal-claim", pk=claim.pk)
    form = DisputeForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["reason"]))
        return redirect("portal-claim", pk=claim.pk)
    try:
        claim_services.claim_dispute(
            claim=claim, by=request.user, reason=form.cleaned_data["reason"]
        )
    except (IncentiveError, ValidationError) as exc:
        _refusal(request, exc)
    else:
        messages.success(request, _("Your dispute is with the channel chief."))
    return redirect("portal-claim", pk=claim.pk)


# ---------------------------------------------------------------- MDF


@role_required(Role.PARTNER)
def mdf_home(request) -> HttpResponse:
    """The fund's balance this fiscal year, the activities, and their return over all the
    partner's funds."""
    partner = _partner(request)
    today = timezone.localdate()
    year = Quarter.containing(today, start_month=partner.program.fiscal_year_start_month).year
    requests = mdf_requests_visible_to(request.user)
    return render(
        request,
        "incentives/mdf.html",
        {
            "partner": partner,
            "year": year,
            "fund": fund_for(partner, year),
            "next_fund": fund_for(partner, year + 1),
            "page": Paginator(requests, 25).get_page(request.GET.get("page")),
            "returns": mdf_return(partner.mdf_funds.all()),
            "today": today,
        },
    )


@role_required(Role.PARTNER)
def mdf_request_new(request) -> HttpResponse:
    partner = _partner(request)
    form = MdfRequestForm(request.POST or None, partner=partner)
    if request.method == "POST" and form.is_valid():
        try:
            mdf_request = mdf_services.mdf_request_submit(
                partner=partner, by=request.user, **form.cleaned_data
            )
        except IncentiveError as exc:
            form.add_error(None, exc.message)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(
                request,
                _("“%(title)s” is submitted for pre-approval.") % {"title": mdf_request.title},
            )
            return redirect("portal-mdf-request", pk=mdf_request.pk)
    return render(
        request,
        "incentives/mdf_new.html",
        {"form": form, "partner": partner},
        status=400 if form.errors else 200,
    )


def _request_for(request, pk) -> MdfRequest:
    try:
        return mdf_requests_visible_to(request.user).get(pk=pk)
    except MdfRequest.DoesNotExist as exc:
        raise Http404("No such MDF request.") from exc


@scoped(pk=MdfRequest)
@role_required(*Role.values)
def mdf_request_detail(request, pk: int, form: MdfClaimForm | None = None) -> HttpResponse:
    mdf_request = _request_for(request, pk)
    today = timezone.localdate()
    can_claim = (
        mdf_request.status == "approved"
        and mdf_request.ends_on <= today <= mdf_request.claim_due_on
    )
    return render(
        request,
        "incentives/mdf_request.html",
        {
            "req": mdf_request,
            "claims": mdf_request.claims.prefetch_related("proofs"),
            "form": form or MdfClaimForm(),
            "can_claim": can_claim,
            "today": today,
            "history": mdf_request.history.select_related("history_user").order_by("-history_date"),
        },
        status=400 if form is not None and form.errors else 200,
    )


@scoped(pk=MdfRequest)
@role_required(*Role.values)
def mdf_claim_new(request, pk: int) -> HttpResponse:
    mdf_request = _request_for(request, pk)  # first: another partner's request is a 404
    _partner_only(request)
    if request.method != "POST":
        return redirect("portal-mdf-request", pk=mdf_request.pk)
    form = MdfClaimForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            mdf_services.mdf_claim_submit(
                request=mdf_request,
                by=request.user,
                actual_cost=data["actual_cost"],
                leads_generated=data["leads_generated"],
                notes=data["notes"],
                files=[proof_from_upload(upload) for upload in data["files"]],
            )
        except IncentiveError as exc:
            form.add_error(None, exc.message)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("Your claim is filed; your channel manager reviews it."))
            return redirect("portal-mdf-request", pk=mdf_request.pk)
    return mdf_request_detail(request, pk, form=form)


@scoped(pk=MdfRequest)
@role_required(*Role.values)
def mdf_request_cancel(request, pk: int) -> HttpResponse:
    mdf_request = _request_for(request, pk)  # first: another partner's request is a 404
    _partner_only(request)
    if request.method == "POST":
        try:
            mdf_services.mdf_request_cancel(request=mdf_request, by=request.user)
        except IncentiveError as exc:
            _refusal(request, exc)
        else:
            messages.success(
                request,
                _("“%(title)s” is cancelled; its funds are free.") % {"title": mdf_request.title},
            )
    return redirect("portal-mdf-request", pk=mdf_request.pk)


@scoped(pk=MdfProof)
@role_required(*Role.values)
def proof_download(request, pk: int) -> HttpResponse:
    """A proof file, to the partner that filed it and to the vendor staff who see it."""
    proof = MdfProof.objects.select_related("claim").filter(pk=pk).first()
    if (
        proof is None
        or not mdf_requests_visible_to(request.user).filter(pk=proof.claim.request_id).exists()
    ):
        raise Http404("No such file.")
    return stored_file(proof.file, filename=proof.name, content_type=proof.content_type)


# ---------------------------------------------------------------- contributions


@role_required(Role.PARTNER)
def contributions(request) -> HttpResponse:
    partner = _partner(request)
    form = ContributionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            contribution_services.contribution_submit(
                partner=partner, by=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("Thank you: your channel manager reviews it."))
            return redirect("portal-contributions")
    listed = contributions_visible_to(request.user).order_by("-submitted_at", "-pk")
    return render(
        request,
        "incentives/contributions.html",
        {
            "form": form,
            "page": Paginator(listed, 25).get_page(request.GET.get("page")),
            "program": partner.program,
        },
        status=400 if form.errors else 200,
    )
