"""Pages of the partners app: the partner's team and invitations, one's own API tokens,
the leads the vendor passes to the partner, the notification centre (one's notices and how
they are e-mailed), the public partner directory and the partner admin's directory
profile."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import EmptyPage, Paginator
from django.db.models import Count, Q
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from prm.downloads import DOWNLOAD_POLICY
from prm.pages import page_of
from prm.roles import Role
from prm.throttles import anonymous_posts_limited
from prm.views import role_required, scoped

from . import services
from .forms import (
    DirectoryFilterForm,
    DirectoryInquiryForm,
    DirectoryProfileForm,
    InviteForm,
    LeadCloseForm,
    LeadDeclineForm,
    NoticeFilterForm,
    NoticePreferencesForm,
)
from .models import DirectoryInquiry, DirectoryProfile, Lead, NoticeKind, Partner
from .permissions import can_invite_partner_users, is_own_partner_admin
from .queries import (
    api_tokens_of,
    directory_lead_counts,
    directory_partner,
    directory_search,
    directory_tiers,
    lead_for_user,
    lead_offers_pending,
    leads_accepted_by,
    members_visible_to,
    month_start,
    notice_deliveries_of,
    notices_listed,
    partner_for_user,
    partner_id_of,
)
from .services import leads as lead_services
from .services import notices as notice_services
from .services.directory import (
    directory_inquiry_submit,
    directory_lead_band,
    directory_profile_update,
)

DIRECTORY_PAGE_SIZE = 12
NOTICES_PER_PAGE = 25


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


# ---------------------------------------------------------------- the public directory


def _form_errors_from(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def directory(request) -> HttpResponse:
    """The public partner directory (no sign-in): active partners that opted in, filtered
    by region, specialty, language, tier and name, a page at a time."""
    form = DirectoryFilterForm(request.GET or None, tiers=directory_tiers())
    if form.is_bound and not form.is_valid():
        page = Paginator(Partner.objects.none(), DIRECTORY_PAGE_SIZE).get_page(1)
        status = 400
    else:
        filters = form.cleaned_data if form.is_bound else {}
        partners = directory_search(**{k: v for k, v in filters.items() if v})
        page = Paginator(partners, DIRECTORY_PAGE_SIZE).get_page(request.GET.get("page"))
        status = 200
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "partners/directory.html",
        {"form": form, "page": page, "query": query.urlencode()},
        status=status,
    )


@scoped(pk=Partner)
@anonymous_posts_limited("directory_inquiry", counts=lambda response: response.status_code == 200)
def directory_partner_page(request, pk: int) -> HttpResponse:
    """One partner of the directory, with "Contact this partner": the inquiry becomes a
    lead passed to it directly. Each address may send a few an hour (prm.throttles);
    ``website`` is the honeypot (RULEBOOK §11). A partner not listed is a 404, also to
    signed-in people of other partners (the scope sweep)."""
    partner = directory_partner(pk)
    form = DirectoryInquiryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "website"}
        try:
            inquiry = directory_inquiry_submit(partner=partner, **data)
        except ValidationError as exc:
            _form_errors_from(form, exc)
        else:
            return render(
                request, "partners/directory_sent.html", {"partner": partner, "inquiry": inquiry}
            )
    return render(
        request,
        "partners/directory_partner.html",
        {"partner": partner, "profile": partner.directory_profile, "form": form},
        status=400 if form.errors else 200,
    )


@scoped(pk=Partner)
def directory_logo(request, pk: int) -> HttpResponse:
    """The logo of a listed partner, shown in the public pages: the one public way to a
    stored file, and only to this one (a PNG or JPEG whose first bytes were checked on
    upload), with the stored type, ``nosniff`` and a sandboxing policy."""
    profile = directory_partner(pk).directory_profile
    if not profile.logo or not profile.logo.storage.exists(profile.logo.name):
        raise Http404("No logo.")
    response = FileResponse(profile.logo.open("rb"), content_type=profile.logo_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = DOWNLOAD_POLICY
    # Short, so that a partner leaving the directory is soon gone from caches too.
    response["Cache-Control"] = "public, max-age=300"
    return response


@role_required(Role.PARTNER)
def directory_profile(request) -> HttpResponse:
    """The partner's directory profile: its admin edits it (reps read it), and everyone
    sees this month's directory leads against the playbook's range and the latest
    inquiries, to answer them."""
    partner = partner_for_user(request.user, partner_id_of(request.user))
    profile = DirectoryProfile.objects.filter(partner=partner).first() or DirectoryProfile(
        partner=partner
    )
    can_edit = is_own_partner_admin(request.user, partner)
    initial = {
        "listed": profile.listed,
        "description": profile.description,
        "specialties": profile.specialty_list,
        "regions": profile.region_list,
        "languages": profile.language_list,
    }
    form = DirectoryProfileForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        if form.is_valid():
            data = dict(form.cleaned_data)
            try:
                directory_profile_update(partner=partner, by=request.user, **data)
            except ValidationError as exc:
                _form_errors_from(form, exc)
            else:
                messages.success(request, _("Directory profile saved."))
                return redirect("portal-directory-profile")
    since = month_start(timezone.localdate())
    count = directory_lead_counts([partner.pk], since=since).get(partner.pk, 0)
    inquiries = DirectoryInquiry.objects.filter(partner=partner).select_related("lead")[:10]
    return render(
        request,
        "partners/directory_profile.html",
        {
            "partner": partner,
            "profile": profile,
            "form": form,
            "can_edit": can_edit,
            "band": directory_lead_band(count),
            "inquiries": inquiries,
        },
        status=400 if form.errors else 200,
    )


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


def _lead_reason_page(request, pk: int, *, action: str, form_class, answer, done: str):
    """Declining an offered lead or closing an accepted one (``action``): the form, then
    ``answer`` (the service) with the reason and note; ``done`` is said on success. A
    refusal by the rules is a 409, bad input a 400, both with the form again."""
    lead, partner = _answered_lead(request, pk)
    form = form_class(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                answer(lead=lead, partner=partner, by=request.user, **form.cleaned_data)
            except lead_services.LeadAnswerRefused as exc:
                form.add_error(None, exc.messages)
                status = 409
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, done % {"company": lead.company_name})
                return redirect("portal-leads")
        if form.errors and status == 200:
            status = 400
    context = {"lead": lead, "form": form, "action": action}
    return render(request, "partners/lead_reason.html", context, status=status)


@scoped(pk=Lead)
@role_required(Role.PARTNER)
def lead_decline(request, pk: int) -> HttpResponse:
    """Decline an offered lead with a reason from the list (and words for “Other”)."""
    return _lead_reason_page(
        request,
        pk,
        action="decline",
        form_class=LeadDeclineForm,
        answer=lead_services.lead_decline,
        done=_("You declined %(company)s; it goes to another partner."),
    )


@scoped(pk=Lead)
@role_required(Role.PARTNER)
def lead_close(request, pk: int) -> HttpResponse:
    """Close an accepted lead the partner will not register, with a reason from the list
    (and words for “Other”): it frees a place of the partner's lead capacity."""
    return _lead_reason_page(
        request,
        pk,
        action="close",
        form_class=LeadCloseForm,
        answer=lead_services.lead_close,
        done=_("You closed %(company)s. It no longer counts against your lead capacity."),
    )


@role_required(Role.PARTNER)
def notifications(request) -> HttpResponse:
    """Every notice meant for the signed-in person, read or not, newest first, by kind."""
    partner = partner_for_user(request.user, partner_id_of(request.user))
    form = NoticeFilterForm(request.GET)
    page = None
    if form.is_valid():
        listed = notices_listed(
            request.user, partner, kind=form.cleaned_data["kind"], unread=form.unread
        )
        try:
            page = Paginator(listed, NOTICES_PER_PAGE).page(form.cleaned_data["page"] or 1)
        except EmptyPage as exc:
            raise Http404(_("There is no such page of notices.")) from exc
    return render(
        request,
        "partners/notifications.html",
        {
            "partner": partner,
            "form": form,
            "page": page,
            "kinds": dict(NoticeKind.choices),
            "query": {name: form.data[name] for name in ("kind", "state") if form.data.get(name)},
        },
        status=200 if page is not None else 400,
    )


@require_POST
@role_required(Role.PARTNER)
def notifications_read(request) -> HttpResponse:
    """Mark every notice meant for the signed-in person read (their teammates' stay new)."""
    partner = partner_for_user(request.user, partner_id_of(request.user))
    notice_services.notices_mark_read(user=request.user, partner=partner)
    messages.success(request, _("All your notices are marked read."))
    return redirect("portal-notifications")


@role_required(Role.PARTNER)
def notification_settings(request) -> HttpResponse:
    """How each kind of notice reaches the signed-in person by e-mail, and in which
    language."""
    initial = {f"kind_{kind}": value for kind, value in notice_deliveries_of(request.user).items()}
    initial["language"] = request.user.language or request.LANGUAGE_CODE
    form = NoticePreferencesForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        notice_services.notice_preferences_set(
            user=request.user,
            deliveries=form.deliveries,
            language=form.cleaned_data["language"],
        )
        messages.success(request, _("Your notification settings are saved."))
        return redirect("portal-notification-settings")
    return render(
        request,
        "partners/notification_settings.html",
        {"form": form},
        status=400 if form.errors else 200,
    )
