"""Portal pages of the partners app: the partner's team and invitations, and one's own API
tokens."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from prm.roles import Role
from prm.views import role_required

from . import services
from .forms import InviteForm
from .permissions import can_invite_partner_users
from .queries import api_tokens_of, members_visible_to, partner_for_user, partner_id_of


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
