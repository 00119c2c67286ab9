"""Pages of the enablement app: the public application form, and the partner's
onboarding plan, certifications, content library and co-marketing campaigns."""

import mimetypes

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from partners.models import Partner, Tier
from partners.queries import partner_id_of
from prm.downloads import stored_file
from prm.roles import Role
from prm.throttles import anonymous_posts_limited
from prm.views import role_required, scoped

from . import services
from .forms import ApplicationForm, CampaignForm, LeadForm
from .models import Campaign, ContentItem, Phase
from .queries import (
    campaigns_visible_to,
    certifications_visible_to,
    content_for,
    onboarding_plan,
    onboarding_summary,
)


def _partner(request) -> Partner:
    return Partner.objects.select_related("program", "tier").get(pk=partner_id_of(request.user))


@anonymous_posts_limited("apply", counts=lambda response: response.status_code == 200)
def apply(request) -> HttpResponse:
    """Become a partner: the public application form (no sign-in). Each address may send a
    few applications an hour (prm.throttles), counted in the database."""
    form = ApplicationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "website"}
        try:
            application = services.application_submit(**data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            return render(request, "enablement/applied.html", {"application": application})
    return render(
        request, "enablement/apply.html", {"form": form}, status=400 if form.errors else 200
    )


@role_required(Role.PARTNER)
def onboarding(request) -> HttpResponse:
    partner = _partner(request)
    today = timezone.localdate()
    tasks = onboarding_plan(partner)
    phases = [
        {"label": label, "tasks": [t for t in tasks if t.milestone.phase == value]}
        for value, label in Phase.choices
    ]
    return render(
        request,
        "enablement/onboarding.html",
        {
            "partner": partner,
            "phases": [p for p in phases if p["tasks"]],
            "summary": onboarding_summary(partner, today=today),
            "today": today,
        },
    )


@role_required(Role.PARTNER)
def certifications(request) -> HttpResponse:
    partner = _partner(request)
    today = timezone.localdate()
    held = certifications_visible_to(request.user).order_by("user__last_name", "-expires_on")
    return render(
        request,
        "enablement/certifications.html",
        {"partner": partner, "certifications": held, "today": today},
    )


@role_required(Role.PARTNER)
def content(request) -> HttpResponse:
    partner = _partner(request)
    tiers = dict(Tier.objects.filter(program=partner.program).values_list("rank", "name"))
    return render(
        request,
        "enablement/content.html",
        {"partner": partner, "items": content_for(partner), "tiers": tiers},
    )


@role_required(Role.PARTNER)
def content_open(request, pk: int) -> HttpResponse:
    partner = _partner(request)
    item = ContentItem.objects.filter(pk=pk).first()
    if item is None:
        raise Http404("No such content.")
    try:
        services.content_open(item=item, user=request.user, partner=partner)
    except services.EnablementError as exc:
        if exc.status == 404:
            raise Http404(exc.message) from exc
        messages.error(request, exc.message)
        return redirect("portal-content")
    if item.file:
        name = item.file.name.rsplit("/", 1)[-1]
        return stored_file(item.file, filename=name, content_type=mimetypes.guess_type(name)[0])
    return HttpResponseRedirect(item.url)


content_open.shared_resource = True  # the program's library: the same for every partner


@role_required(Role.PARTNER)
def campaigns(request) -> HttpResponse:
    partner = _partner(request)
    form = CampaignForm(request.POST or None, program=partner.program)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.campaign_create(
                partner=partner, by=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("“%(name)s” is planned.") % {"name": campaign.name})
            return redirect("portal-campaign", pk=campaign.pk)
    return render(
        request,
        "enablement/campaigns.html",
        {
            "form": form,
            "campaigns": campaigns_visible_to(request.user),
            "activities": form.fields["activity"].queryset,
        },
        status=400 if form.errors else 200,
    )


def _campaign_for(request, pk) -> Campaign:
    try:
        return campaigns_visible_to(request.user).get(pk=pk)
    except Campaign.DoesNotExist as exc:
        raise Http404("No such campaign.") from exc


@scoped(pk=Campaign)
@role_required(*Role.values)
def campaign_detail(request, pk: int, form: LeadForm | None = None) -> HttpResponse:
    campaign = _campaign_for(request, pk)
    return render(
        request,
        "enablement/campaign.html",
        {
            "campaign": campaign,
            "leads": campaign.leads.select_related("recorded_by")[:200],
            "mdf_requests": campaign.mdf_requests.all(),
            "form": form or LeadForm(),
        },
        status=400 if form is not None and form.errors else 200,
    )


@scoped(pk=Campaign)
@role_required(*Role.values)
def campaign_lead(request, pk: int) -> HttpResponse:
    campaign = _campaign_for(request, pk)  # first: another partner's campaign is a 404
    if request.method != "POST":
        return redirect("portal-campaign", pk=campaign.pk)
    if request.user.role != Role.PARTNER and not request.user.has_perm(
        "partners.manage_partner", campaign.partner
    ):
        raise PermissionDenied
    form = LeadForm(request.POST)
    if not form.is_valid():
        return campaign_detail(request, pk, form=form)
    services.campaign_lead_record(campaign=campaign, by=request.user, **form.cleaned_data)
    messages.success(
        request, _("Lead %(company)s recorded.") % {"company": form.cleaned_data["company_name"]}
    )
    return redirect("portal-campaign", pk=campaign.pk)
