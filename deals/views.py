"""Portal pages for deal registration: register (with a live conflict hint), list, detail."""

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from partners.models import Partner
from partners.permissions import manages_partner
from partners.queries import partner_id_of
from prm.money import format_money
from prm.pages import page_of
from prm.roles import MANAGER_ROLES, Role, role_of
from prm.templatetags.prm_format import days_left, money
from prm.views import role_required, scoped

from . import rules, services
from .forms import ExtendForm, RegistrationForm
from .models import Deal, DealStatus
from .queries import deal_for_user, deal_list_for


def _partner(request) -> Partner:
    return Partner.objects.select_related("program", "tier").get(pk=partner_id_of(request.user))


# The badge of each state: (Bootstrap colour, label). A registration under review says
# so whatever its state.
STATUS_BADGES = {
    DealStatus.PENDING: ("warning", gettext_lazy("Pending approval")),
    DealStatus.APPROVED: ("success", gettext_lazy("Approved")),
    DealStatus.WON: ("primary", gettext_lazy("Won")),
    DealStatus.REJECTED: ("danger", gettext_lazy("Rejected")),
}
UNDER_REVIEW_BADGE = ("info", gettext_lazy("Under review"))
UNDER_REVIEW_TITLE = gettext_lazy(
    "A channel manager checks whether another partner already registered this customer."
)


def status_badge(deal: Deal) -> dict:
    """What the status badge of a registration shows: colour, label and tooltip."""
    if deal.needs_review:
        colour, label = UNDER_REVIEW_BADGE
        return {"colour": colour, "label": label, "title": UNDER_REVIEW_TITLE}
    colour, label = STATUS_BADGES.get(deal.status) or ("secondary", deal.get_status_display())
    return {"colour": colour, "label": label, "title": ""}


@dataclass(frozen=True, slots=True)
class DealRow:
    """One line of the deal list, formatted once here so that the template only prints
    (the list is the portal's most drawn page)."""

    pk: int
    url: str
    customer: str
    direct: bool
    amount: str
    reporting: str  # the amount in the reporting currency, for a deal in another one
    badge: dict
    submitted: str
    protection: str
    protected_until: str
    extended: bool
    credit: str
    won_of: str


def _reporting_currencies(deals: list[Deal]) -> dict[int, str]:
    """Each partner's reporting currency (its program's), for the page's deals: one query
    for the partners of the page whatever their number, none for an empty page."""
    ids = {deal.partner_id for deal in deals}
    if not ids:
        return {}
    return dict(Partner.objects.filter(pk__in=ids).values_list("pk", "program__currency"))


def _rows(deals: list[Deal]) -> list[DealRow]:
    # One reverse for the page: each deal's page is the list's address plus its id.
    base = reverse("portal-deals")
    reporting = _reporting_currencies(deals)
    rows = []
    for deal in deals:
        currency = reporting.get(deal.partner_id, deal.currency)
        approved = deal.status == DealStatus.APPROVED
        won_of = ""
        if deal.status == DealStatus.WON and deal.closed_amount is not None:
            won_of = _("of %(amount)s won") % {
                "amount": money(deal.closed_amount)
                if deal.currency == currency
                else format_money(deal.closed_amount, deal.currency)
            }
        rows.append(
            DealRow(
                pk=deal.pk,
                url=f"{base}{deal.pk}/",
                customer=deal.customer_name,
                direct=deal.direct_conflict,
                amount=money(deal.amount)
                if deal.currency == currency
                else format_money(deal.amount, deal.currency),
                reporting=""
                if deal.currency == currency
                else format_money(deal.amount_reporting, currency),
                badge=status_badge(deal),
                submitted=date_format(timezone.localtime(deal.submitted_at), "DATE_FORMAT"),
                protection=days_left(deal.expires_on) if approved else "",
                protected_until=_("Protected until %(day)s")
                % {"day": date_format(deal.expires_on, "DATE_FORMAT")}
                if approved and deal.expires_on
                else "",
                extended=approved and deal.extended,
                credit=money(deal.partner_credit) if deal.partner_credit is not None else "",
                won_of=won_of,
            )
        )
    return rows


@role_required(*Role.values)
def deal_list(request) -> HttpResponse:
    """The partner's registrations, newest first, with protection left."""
    status = request.GET.get("status", "")
    page = page_of(deal_list_for(request.user, status=status), request.GET.get("page"))
    return render(
        request,
        "deals/list.html",
        {"page": page, "rows": _rows(page), "status": status, "statuses": DealStatus.choices},
    )


@role_required(Role.PARTNER)
def deal_new(request) -> HttpResponse:
    partner = _partner(request)
    form = RegistrationForm(request.POST or None, partner=partner)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            deal = services.deal_register(
                partner=partner,
                submitted_by=request.user,
                products=list(data.pop("products")),
                **data,
            )
        except services.DealError as exc:
            form.add_error(None, exc.message)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            if deal.status == DealStatus.REJECTED:
                messages.warning(request, rules.MESSAGES[deal.reason])
            elif deal.needs_review:
                messages.info(request, rules.UNDER_REVIEW)
            else:
                messages.success(
                    request,
                    _(
                        "%(customer)s is registered. Your channel manager decides within "
                        "%(hours)s hours; after that it is approved automatically."
                    )
                    % {
                        "customer": deal.customer_name,
                        "hours": partner.program.registration_sla_hours,
                    },
                )
            return redirect("portal-deal", pk=deal.pk)
    return render(
        request,
        "deals/new.html",
        {"form": form, "partner": partner},
        status=400 if form.errors else 200,  # bad input or a refusal: the form again, with why
    )


@role_required(Role.PARTNER)
def deal_check(request) -> HttpResponse:
    """htmx: while the partner types, say whether the customer is free (never who has it)."""
    partner = _partner(request)
    state = services.account_status_for(
        partner,
        customer_name=request.GET.get("customer_name", ""),
        customer_domain=request.GET.get("customer_domain", ""),
    )
    return render(request, "deals/_check.html", {"state": state})


@scoped(pk=Deal)
@role_required(*Role.values)
def deal_detail(request, pk: int) -> HttpResponse:
    deal = deal_for_user(request.user, pk)
    history = deal.history.select_related("history_user").order_by("-history_date", "-history_id")
    # Who holds the other registration is for the partner's managers, never the partner.
    review_match = (
        deal.review_match
        if deal.needs_review and manages_partner(request.user, deal.partner)
        else None
    )
    return render(
        request,
        "deals/detail.html",
        {
            "deal": deal,
            "history": history,
            "message": rules.MESSAGES.get(deal.reason, "")
            or (rules.UNDER_REVIEW if deal.needs_review and review_match is None else ""),
            "review_match": review_match,
            "extend_form": ExtendForm(),
            "why_not_extend": rules.can_extend(
                status=deal.status,
                extended=deal.extended,
                expires_on=deal.expires_on,
                today=timezone.localdate(),
            ),
            "today": timezone.localdate(),
        },
    )


@scoped(pk=Deal)
@role_required(Role.PARTNER, *MANAGER_ROLES)
def deal_extend(request, pk: int) -> HttpResponse:
    deal = deal_for_user(request.user, pk)  # first: another partner's deal is a 404
    if request.method != "POST":
        return redirect("portal-deal", pk=deal.pk)
    if role_of(request.user) != Role.PARTNER and not manages_partner(request.user, deal.partner):
        raise PermissionDenied
    form = ExtendForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("justification", [_("Say why.")])))
        return redirect("portal-deal", pk=deal.pk)
    try:
        deal = services.deal_extend(
            deal=deal, by=request.user, justification=form.cleaned_data["justification"]
        )
    except services.DealError as exc:
        messages.error(request, exc.message)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Protection extended to %(day)s.") % {"day": date_format(deal.expires_on)},
        )
    return redirect("portal-deal", pk=deal.pk)


@scoped(pk=Deal)
@role_required(*Role.values)
def deal_review(request, pk: int) -> HttpResponse:
    """A manager decides a registration held as a probable same customer."""
    deal = deal_for_user(request.user, pk)  # first: outside the manager's scope is a 404
    if request.method != "POST":
        return redirect("portal-deal", pk=deal.pk)
    if role_of(request.user) not in MANAGER_ROLES or not manages_partner(
        request.user, deal.partner
    ):
        raise PermissionDenied
    decision = request.POST.get("decision")
    if decision not in ("separate", "same"):
        messages.error(request, _("Choose whether it is a separate customer or the same one."))
        return redirect("portal-deal", pk=deal.pk)
    try:
        deal = services.deal_review_decide(
            deal=deal,
            by=request.user,
            same_customer=decision == "same",
            note=request.POST.get("note", ""),
        )
    except services.DealError as exc:
        messages.error(request, exc.message)
    else:
        if deal.status == DealStatus.APPROVED:
            messages.success(request, _("Approved as a separate customer."))
        else:
            messages.success(
                request, _("Rejected: the same customer, registered first by another partner.")
            )
    return redirect("portal-deal", pk=deal.pk)
