"""Portal pages of the partners app: the partner's team and invitations, one's own API
tokens, and the notification centre (one's notices and how they are e-mailed)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import EmptyPage, Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from prm.roles import Role
from prm.views import role_required

from . import services
from .forms import InviteForm, NoticeFilterForm, NoticePreferencesForm
from .models import NoticeKind
from .permissions import can_invite_partner_users
from .queries import (
    api_tokens_of,
    members_visible_to,
    notice_deliveries_of,
    notices_listed,
    partner_for_user,
    partner_id_of,
)
from .services import notices as notice_services

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
