"""Portal pages of the partners app: the partner's team and invitations, one's own API
tokens, and the leads the vendor passes to the partner."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from prm.pages import page_of
from prm.roles import Role
from prm.views import role_required, scoped

from . import services
from .forms import InviteForm, LeadDeclineForm
from .models import Lead
from .permissions import can_invite_partner_users
from .queries import (
    api_tokens_of,
    lead_for_user,
    lead_offers_pending,
    leads_accepted_by,
    members_visible_to,
    partner_for_user,
    partner_id_of,
)
from .services import leads as lead_services


@role_required(Role.PARTNER)
def team(request) -> HttpResponse:
    """The partner's people with their current certifications; admins invite from here."""
    partner = partner_for_user(request.user, partner_id_of(request.user))
    can_invite = can_invite_partner_users(request.user, partner)
    today = timezone.localdate()
    members = (
        members_visible_to(request.user)
        .filter(partner=partner)
        .annotate(
            current_certs=Count(
                "user__certifications",
                filter=Q(
                    user__certifications__issued_on__lte=today,
                    user__certifications__expires_on__gt=today,
                ),
            )
        )
        .order_by("-role", "user__username")
    )
    form = InviteForm(request.POST or None)
    if request.method == "POST":
        if not can_invite:
            raise PermissionDenied
        if form.is_valid():
            try:
                member = services.partner_user_invite(
                    partner=partner,
                    invited_by=request.user,
                    base_url=request.build_absolute_uri("/"),
                    **form.cleaned_data,
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(
                    request, _("Invitation sent to %(email)s.") % {"email": member.user.email}
                )
                return redirect("portal-team")
    return render(
        request,
        "portal/team.html",
        {"partner": partner, "members": members, "form": form, "can_invite": can_invite},
        status=400 if form.errors else 200,
    )


@login_required
def tokens(request) -> HttpResponse:
    """The signed-in person's own API tokens (everyone's, staff and partner people alike),
    each revocable here."""
    mine = api_tokens_of(request.user)
    if request.method == "POST":
        token = get_object_or_404(mine, digest=request.POST.get("token", ""))
        services.api_tokens_revoke(tokens=mine.filter(digest=token.digest), by=request.user)
        messages.success(request, _("Token revoked: it no longer works."))
        return redirect("portal-tokens")
    return render(request, "partners/tokens.html", {"tokens": mine.order_by("-created")})


@role_required(Role.PARTNER)
def leads_inbox(request) -> HttpResponse:
    """The leads offered to the partner, to accept or decline within the window, and the
    leads it holds."""
    partner = partner_for_user(request.user, partner_id_of(request.user))
    return render(
        request,
        "partners/leads.html",
        {
            "partner": partner,
            "offers": lead_offers_pending(partner.pk),
            "page": page_of(leads_accepted_by(partner.pk), request.GET.get("page")),
            "now": timezone.now(),
        },
    )


def _answered_lead(request, pk: int) -> tuple[Lead, object]:
    lead = lead_for_user(request.user, pk)  # another partner's lead is a 404
    return lead, partner_for_user(request.user, partner_id_of(request.user))


@scoped(pk=Lead)
@role_required(Role.PARTNER)
def lead_accept(request, pk: int) -> HttpResponse:
    lead, partner = _answered_lead(request, pk)
    if request.method != "POST":
        return redirect("portal-leads")
    try:
        lead_services.lead_accept(lead=lead, partner=partner, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return render(
            request,
            "partners/leads.html",
            {
                "partner": partner,
                "offers": lead_offers_pending(partner.pk),
                "page": page_of(leads_accepted_by(partner.pk), 1),
                "now": timezone.now(),
            },
            status=409,
        )
    messages.success(
        request,
        _("You accepted %(company)s: it is yours to work, and to register as a deal.")
        % {"company": lead.company_name},
    )
    return redirect("portal-leads")


@scoped(pk=Lead)
@role_required(Role.PARTNER)
def lead_decline(request, pk: int) -> HttpResponse:
    """Decline an offered lead with a reason from the list (and words for “Other”)."""
    lead, partner = _answered_lead(request, pk)
    form = LeadDeclineForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                lead_services.lead_decline(
                    lead=lead, partner=partner, by=request.user, **form.cleaned_data
                )
            except lead_services.LeadAnswerRefused as exc:
                form.add_error(None, exc.messages)
                status = 409
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(
                    request,
                    _("You declined %(company)s; it goes to another partner.")
                    % {"company": lead.company_name},
                )
                return redirect("portal-leads")
        if form.errors and status == 200:
            status = 400
    return render(
        request, "partners/lead_decline.html", {"lead": lead, "form": form}, status=status
    )
