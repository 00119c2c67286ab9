"""Home pages of each face: partner portal, channel manager, executive; the partner's
business reviews and joint business plan."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext, pgettext_lazy

from enablement.queries import onboarding_summary
from partners.forms import ManagerNoteForm
from partners.models import Partner, Region, Tier
from partners.permissions import manages_partner
from partners.queries import (
    notices_for,
    partner_for_user,
    partner_id_of,
    partners_visible_to,
    scope_to_user,
)
from partners.services import notices_mark_read
from partners.services.notes import manager_note_add
from prm.downloads import csv_attachment, csv_text
from prm.quarters import Quarter
from prm.roles import ALL_PARTNER_ROLES, VENDOR_ROLES, Role, role_of
from prm.views import role_required, scoped

from .dashboard import (
    DEFINITIONS,
    dashboard,
    dashboard_request,
    dashboard_scope,
    programs_of,
    tiers_of,
)
from .models import DISPUTE_TEXT_MAX, Qbr, Scorecard, ScorecardDispute
from .queries import (
    business_plan_progress,
    business_plans_visible_to,
    partner_360,
    partner_standing,
    qbr_for_user,
    qbrs_visible_to,
    qbrs_with_overdue,
    scorecard_disputes,
    scorecard_explanation,
    scorecard_weights,
    scorecards_visible_to,
    standings,
    work_queue,
)
from .rules import band_for, how_to_raise
from .services.close import weights_for
from .services.disputes import DisputeError, dispute_answer, dispute_raise

# The band's one word on the managers' list (the scorecard model's labels carry the ranges).
BAND_NAMES = {
    "probation": pgettext_lazy("score band", "probation"),
    "maintain": pgettext_lazy("score band", "maintain"),
    "grow": pgettext_lazy("score band", "grow"),
    "invest": pgettext_lazy("score band", "invest"),
}


def home(request) -> HttpResponse:
    """Send each role to its own home."""
    if not request.user.is_authenticated:
        return redirect("account_login")
    role = role_of(request.user)
    if role == Role.PARTNER:
        return redirect("portal-home")
    if role == Role.CHANNEL_MANAGER:
        return redirect("manager-home")
    if role in ALL_PARTNER_ROLES:
        return redirect("executive-home")
    return redirect("account_login")


def _standing_page(request, partner: Partner, *, template: str, extra: dict | None = None):
    as_of = timezone.localdate()
    facts, progress = partner_standing(partner, as_of)
    context = {
        "partner": partner,
        "facts": facts,
        "progress": progress,
        "as_of": as_of,
        "onboarding": onboarding_summary(partner, today=as_of),
    }
    return render(request, template, context | (extra or {}))


@role_required(Role.PARTNER)
def portal_home(request) -> HttpResponse:
    """The partner's tier, its benefits and requirements, progress to the next tier, and
    the latest notices (which this visit marks read)."""
    partner_id = partner_id_of(request.user)
    if partner_id is None:
        return render(request, "portal/no_partner.html", status=403)
    partner = partner_for_user(request.user, partner_id)
    notices = list(notices_for(request.user, partner)[:8])
    response = _standing_page(
        request, partner, template="portal/home.html", extra={"notices": notices}
    )
    if any(not notice.read for notice in notices):  # up to the newest shown, not one since
        notices_mark_read(user=request.user, partner=partner, up_to=notices[0].created_at)
    return response


@scoped(pk=Partner)
@role_required(*Role.values)
def partner_detail(request, pk: int) -> HttpResponse:
    """One partner's standing, for its own people; the staff who may see it are sent to
    its partner 360 page (this one is written to the partner: "Your benefits")."""
    partner = partner_for_user(request.user, pk)
    if role_of(request.user) in VENDOR_ROLES:
        return redirect("manager-partner", pk=partner.pk)
    return _standing_page(request, partner, template="portal/home.html")


# Partners per page of the managers' list: a manager's whole book is usually one page; the
# staff who see every partner page through the program (each row's standing reads that
# partner's deals, certifications and claims).
MANAGER_PAGE = 100


@role_required(Role.CHANNEL_MANAGER, *ALL_PARTNER_ROLES)
def manager_home(request) -> HttpResponse:
    """The manager's partners with their standing, weakest fit first."""
    as_of = timezone.localdate()
    partners = partners_visible_to(request.user).exclude(status="exited")
    tier = request.GET.get("tier")
    if tier:
        partners = partners.filter(tier__slug=tier)
    page = Paginator(partners.order_by("name", "pk"), MANAGER_PAGE).get_page(
        request.GET.get("page")
    )
    rows = standings(page.object_list, as_of)
    queue = work_queue([row["partner"].pk for row in rows])
    empty = {"pending": 0, "claims": 0, "mdf": 0, "flags": 0}
    weights = {}
    for row in rows:
        row["queue"] = queue.get(row["partner"].pk, empty)
        partner = row["partner"]
        if partner.program_id not in weights:
            weights[partner.program_id] = weights_for(partner.program)
        row["band"] = (
            band_for(partner.latest_score, weights[partner.program_id])
            if partner.latest_score is not None
            else ""
        )
        row["band_name"] = BAND_NAMES.get(row["band"], row["band"])
    totals = {key: sum(row["queue"][key] for row in rows) for key in empty}
    at_risk = [row for row in rows if not row["progress"].meets_current]
    ready = [row for row in rows if row["progress"].ready_for_next]
    tier_choices = (
        Tier.objects.filter(program__is_default=True).order_by("rank").values_list("slug", "name")
    )
    return render(
        request,
        "portal/manager_home.html",
        {
            "rows": rows,
            "page": page,
            "at_risk": at_risk,
            "ready": ready,
            "as_of": as_of,
            "tier": tier,
            "tier_choices": list(tier_choices),
            "totals": totals,
        },
    )


@scoped(pk=Partner)
@login_required
def manager_partner(request, pk: int) -> HttpResponse:
    """The partner 360 page: everything the vendor's staff know about one partner, and the
    managers' internal notes, which its channel manager (or a chief) adds here. A partner's
    own people are answered 404, as for any page that is not theirs."""
    if role_of(request.user) not in VENDOR_ROLES:
        raise Http404("No such partner.")
    partner = partner_for_user(request.user, pk)
    may_note = manages_partner(request.user, partner)
    form = ManagerNoteForm(request.POST or None) if may_note else None
    status = 200
    if request.method == "POST":
        if not may_note:
            raise PermissionDenied(gettext("Only the partner's channel manager may add notes."))
        if form.is_valid():
            try:
                manager_note_add(partner=partner, by=request.user, text=form.cleaned_data["text"])
            except ValidationError as exc:
                form.add_error("text", exc.messages)
            else:
                messages.success(request, gettext("Note added."))
                return redirect("manager-partner", pk=partner.pk)
        status = 400
    return _partner_360_page(request, partner, form=form, status=status)


def _partner_360_page(
    request, partner: Partner, *, form, status: int = 200, dispute_error: dict | None = None
) -> HttpResponse:
    as_of = timezone.localdate()
    facts, progress = partner_standing(partner, as_of)
    context = {
        "partner": partner,
        "facts": facts,
        "progress": progress,
        "as_of": as_of,
        "sections": partner_360(partner),
        "form": form,
        "may_decide": manages_partner(request.user, partner),
        "dispute_error": dispute_error or {},
        "answer_max": DISPUTE_TEXT_MAX,
    }
    return render(request, "scoring/partner_360.html", context, status=status)


@scoped(pk=ScorecardDispute)
@role_required(*Role.values)
def manager_dispute_answer(request, pk: int) -> HttpResponse:
    """The partner's channel manager answers a scorecard dispute from the partner 360 page
    (POST); the admin's dispute page does the same. Anyone else: 404 outside their scope,
    403 within it (the service refuses)."""
    dispute = (
        scope_to_user(
            ScorecardDispute.objects.select_related("scorecard__partner"),
            request.user,
            partner_field="scorecard__partner",
        )
        .filter(pk=pk)
        .first()
    )
    if dispute is None:
        raise Http404("No such dispute.")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    partner = dispute.scorecard.partner
    try:
        dispute_answer(dispute=dispute, by=request.user, answer=request.POST.get("answer", ""))
    except DisputeError as exc:
        if exc.code == "forbidden":
            raise PermissionDenied(exc.message) from exc
        if exc.code == "answered":  # no form on the page to show it beside
            messages.error(request, exc.message)
        form = ManagerNoteForm() if manages_partner(request.user, partner) else None
        return _partner_360_page(
            request,
            partner,
            form=form,
            status=400,
            dispute_error={
                "pk": dispute.pk,
                "error": exc.message,
                "answer": request.POST.get("answer", ""),
            },
        )
    messages.success(request, gettext("Answer sent; the partner is told."))
    return redirect("manager-partner", pk=partner.pk)


# Each table's rows and columns; a table with amounts names their currency on every row
# (the program's reporting currency: ``dashboard_scope``), as the ledger's export does.
EXPORTS = {
    "tiers": (
        "tiers",
        ["tier", "name", "partners", "revenue", "quota", "attainment", "currency"],
    ),
    "top-partners": (
        "top_partners",
        ["id", "name", "tier", "score", "revenue", "deals", "currency"],
    ),
    "revenue": ("revenue_series", ["quarter", "credit", "deals", "currency"]),
    "managers": (
        ("program", "manager_load"),
        ["username", "first_name", "last_name", "partners", "state"],
    ),
}


@role_required(Role.CHANNEL_MANAGER, Role.FINANCE, *ALL_PARTNER_ROLES)
def executive_home(request, export: str = "") -> HttpResponse:
    """The executive dashboard: every figure with its definition, charts, drill-downs to
    the partners behind them, filters, and CSV exports of each table."""
    today = timezone.localdate()
    try:
        quarter, filters = dashboard_request(request.GET)
    except ValueError as exc:
        messages.error(request, str(exc))
        return redirect("executive-home")
    visible = partners_visible_to(request.user)
    partners, filters, currency = dashboard_scope(visible, filters)
    figures = dashboard(partners, quarter, today=today, currency=currency)
    if export == "report":
        return _board_report(request, figures, quarter, filters, today)
    if export:
        if export not in EXPORTS:
            raise Http404("No such table.")
        key, columns = EXPORTS[export]
        rows = figures[key[0]][key[1]] if isinstance(key, tuple) else figures[key]
        rows = [{**row, "currency": currency} for row in rows]
        return csv_attachment(csv_text(columns, rows), filename=f"{export}-{quarter.label}.csv")
    programs = programs_of(visible)
    current = Quarter.containing(today)
    # The quarter's scorecards, or the last close's while it has none (labelled on the page).
    bands = figures["health"] if figures["health"]["scored"] else figures["health"]["last_close"]
    chart_data = {
        "currency": currency,
        "revenue": [
            row | {"label": gettext("%(quarter)s to date") % {"quarter": row["quarter"]}}
            if row["to_date"]
            else row | {"label": row["quarter"]}
            for row in figures["revenue_series"]
        ],
        "tiers": figures["tiers"],
        "health": {k: bands[k] for k in ("on_target", "at_risk", "off_target")} if bands else {},
        "mdf": {
            "allocated": str(figures["incentives"]["mdf_allocated"]),
            "used": str(figures["incentives"]["mdf_used"]),
        },
        "labels": {
            "credit": gettext("Partner credit"),
            "attainment": gettext("Attainment"),
            "health": [gettext("On target"), gettext("At risk"), gettext("Off target")],
        },
    }
    return render(
        request,
        "portal/executive_home.html",
        {
            "f": figures,
            "d": DEFINITIONS,
            "quarter": quarter,
            "quarters": [q.label for q in reversed(current.trailing(8))],
            "filters": filters,
            "tiers": tiers_of(visible),
            "programs": programs,
            "mixed_currencies": len({currency for _, _, currency in programs}) > 1,
            "regions": Region.choices,
            # The filter's managers: those of the load table (every active one, loaded).
            "managers": [
                {
                    "pk": m["pk"],
                    "name": f"{m['first_name']} {m['last_name']}".strip() or m["username"],
                }
                for m in sorted(figures["program"]["manager_load"], key=lambda m: m["username"])
            ],
            "query": request.GET.urlencode(),
            "chart_data": json.loads(json.dumps(chart_data, default=str)),
            "as_of": today,
        },
    )


def _person(row: dict) -> str:
    """A user row's name as ``User.__str__`` gives it: full name, else username."""
    return f"{row['first_name']} {row['last_name']}".strip() or row["username"]


def _board_report(request, figures, quarter, filters, today):
    """The dashboard as a printable board report: HTML, or PDF with ``?format=pdf``."""
    from django.template.loader import render_to_string

    html = render_to_string(
        "portal/board_report.html",
        {
            "f": figures,
            "d": DEFINITIONS,
            "quarter": quarter,
            "filters": filters,
            "as_of": today,
            "max_credit": max((row["credit"] for row in figures["revenue_series"]), default=0) or 1,
        },
        request=request,
    )
    if request.GET.get("format") != "pdf":
        return HttpResponse(html)
    from weasyprint import HTML

    pdf = HTML(string=html, base_url=request.build_absolute_uri("/")).write_pdf()
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="board-report-{quarter.label}.pdf"'
    return response


@role_required(*Role.values)
def scorecards(request) -> HttpResponse:
    """The partner's scorecards, newest first: each dimension, its inputs and arithmetic,
    how to raise it, its disputes; and its tier history. Staff open a partner's through
    ``?partner=``."""
    if role_of(request.user) == Role.PARTNER:
        partner = partner_for_user(request.user, partner_id_of(request.user))
    else:
        partner = partner_for_user(request.user, request.GET.get("partner"))
    return _scorecards_page(request, partner)


def _scorecards_page(
    request, partner: Partner, *, failed: int | None = None, error: str = "", reason: str = ""
) -> HttpResponse:
    """The scorecards page; ``failed``: the scorecard whose dispute was refused with
    ``error`` (the form keeps the ``reason`` typed), answered 400."""
    cards = list(
        scorecards_visible_to(request.user)
        .filter(partner=partner)
        .select_related("version")
        .order_by("-quarter")[:8]
    )
    program = partner.program
    weights = weights_for(program)
    disputes = scorecard_disputes(cards)
    may_dispute = role_of(request.user) == Role.PARTNER
    rows = [
        {
            "card": card,
            "tips": how_to_raise(card.inputs, scorecard_weights(card, weights)),
            "explanation": scorecard_explanation(
                card, scorecard_weights(card, weights), program.currency
            ),
            "disputes": disputes.get(card.pk, []),
            "may_dispute": may_dispute and not any(d.is_open for d in disputes.get(card.pk, [])),
            "error": error if card.pk == failed else "",
            "reason": reason if card.pk == failed else "",
        }
        for card in cards
    ]
    changes = partner.tier_changes.select_related("from_tier", "to_tier", "changed_by")[:20]
    return render(
        request,
        "portal/scorecards.html",
        {
            "partner": partner,
            "rows": rows,
            "changes": changes,
            "weights": weights,
            "flags": partner.red_flags.filter(status="open"),
            "reason_max": DISPUTE_TEXT_MAX,
        },
        status=400 if failed else 200,
    )


@scoped(pk=Scorecard)
@role_required(*Role.values)
def scorecard_dispute(request, pk: int) -> HttpResponse:
    """A partner's person disputes one of its scorecards (POST, from the scorecards page)."""
    card = scorecards_visible_to(request.user).filter(pk=pk).first()
    if card is None:
        raise Http404("No such scorecard.")
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    reason = request.POST.get("reason", "")
    try:
        dispute_raise(scorecard=card, by=request.user, reason=reason)
    except DisputeError as exc:
        if exc.code == "forbidden":
            raise PermissionDenied(exc.message) from exc
        if exc.code == "already_open":  # no form on the page to show it beside
            messages.error(request, exc.message)
        return _scorecards_page(
            request, card.partner, failed=card.pk, error=exc.message, reason=reason
        )
    messages.success(
        request, gettext("Your dispute is sent; your channel manager will answer it here.")
    )
    return redirect(reverse("portal-scorecards") + f"#scorecard-{card.quarter}")


# ---------------------------------------------------------------- QBRs and business plans


def _page_partner(request) -> Partner:
    """The partner a page is about: a partner person's own; staff name it with ``?partner=``."""
    if role_of(request.user) == Role.PARTNER:
        return partner_for_user(request.user, partner_id_of(request.user))
    return partner_for_user(request.user, request.GET.get("partner"))


@role_required(*Role.values)
def qbr_list(request) -> HttpResponse:
    """The partner's business reviews (those shared with it, for its own people) and its
    joint business plan for this fiscal year."""
    partner = _page_partner(request)
    today = timezone.localdate()
    qbrs = list(
        qbrs_with_overdue(qbrs_visible_to(request.user), today)
        .filter(partner=partner)
        .order_by("-quarter")
    )
    for qbr in qbrs:
        qbr.open_items = sum(1 for item in qbr.action_items.all() if item.done_at is None)
    plans = list(business_plans_visible_to(request.user).filter(partner=partner)[:1])
    progress = business_plan_progress(plans, today)
    return render(
        request,
        "portal/qbrs.html",
        {
            "partner": partner,
            "qbrs": qbrs,
            "plan": plans[0] if plans else None,
            "plan_progress": progress.get(plans[0].pk) if plans else None,
            "staff": role_of(request.user) != Role.PARTNER,
        },
    )


@scoped(pk=Qbr)
@role_required(*Role.values)
def qbr_detail(request, pk: int) -> HttpResponse:
    """One business review: its pre-filled sections, what was agreed, and the notes."""
    qbr = qbr_for_user(request.user, pk)
    return render(
        request,
        "portal/qbr.html",
        {
            "qbr": qbr,
            "items": list(qbr.action_items.all()),
            "partner": qbr.partner,
            "overdue": qbr.overdue_on(timezone.localdate()),
        },
    )


def _print_context(request, qbr: Qbr, *, pdf: bool) -> dict:
    if role_of(request.user) == Role.PARTNER:
        back = reverse("portal-qbr", args=[qbr.pk])
    else:
        back = reverse("admin:scoring_qbr_change", args=[qbr.pk])
    return {"qbr": qbr, "items": list(qbr.action_items.all()), "pdf": pdf, "back_url": back}


@scoped(pk=Qbr)
@role_required(*Role.values)
def qbr_print(request, pk: int) -> HttpResponse:
    """The review on paper: one page per A4 sheet, no navigation."""
    qbr = qbr_for_user(request.user, pk)
    return render(request, "scoring/qbr_print.html", _print_context(request, qbr, pdf=False))


@scoped(pk=Qbr)
@role_required(*Role.values)
def qbr_pdf(request, pk: int) -> HttpResponse:
    """The printable page as a PDF (WeasyPrint; the page's styles are inline, so nothing
    is fetched while rendering)."""
    from weasyprint import HTML

    qbr = qbr_for_user(request.user, pk)
    html = render_to_string(
        "scoring/qbr_print.html", _print_context(request, qbr, pdf=True), request=request
    )
    pdf = HTML(string=html).write_pdf()
    filename = f"qbr-{qbr.quarter}-{slugify(qbr.partner.name)}.pdf"
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@role_required(*Role.values)
def business_plan(request) -> HttpResponse:
    """The partner's joint business plans, newest year first, each with its goal against
    the year's revenue so far."""
    partner = _page_partner(request)
    plans = list(business_plans_visible_to(request.user).filter(partner=partner))
    progress = business_plan_progress(plans, timezone.localdate())
    return render(
        request,
        "portal/business_plan.html",
        {
            "partner": partner,
            "rows": [{"plan": plan, "progress": progress[plan.pk]} for plan in plans],
            "staff": role_of(request.user) != Role.PARTNER,
        },
    )
