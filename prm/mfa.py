"""Two-factor sign-in (allauth.mfa: an authenticator app's codes, and recovery codes).

Everyone may turn it on; the staff roles must: a staff member without it is sent to set it
up before any other page (``StaffMfaRequiredMiddleware``). Failed codes count as failed
sign-ins in axes' database (``AuthenticateForm``), so guessing a code is locked out like
guessing a password, whatever the state of the cache.

Single sign-on (integrations.sso, docs/sso.md): a sign-in through an identity provider
asks for the authenticator app's code like a password sign-in does, unless the vendor's
set-up says its identity provider enforces a second factor itself. Such a sign-in carries
``MFA_BY_IDP`` in its state: then no code is asked (``AuthenticateStage``), and the staff
member is not sent to set up an app for that session.
"""

from allauth.account.signals import user_logged_in as allauth_user_logged_in
from allauth.core import context
from allauth.mfa.base.forms import AuthenticateForm as AllauthAuthenticateForm
from allauth.mfa.models import Authenticator
from allauth.mfa.signals import authenticator_added, authenticator_removed
from allauth.mfa.stages import AuthenticateStage as AllauthAuthenticateStage
from axes.handlers.proxy import AxesProxyHandler
from django.contrib import messages
from django.contrib.auth import SESSION_KEY as auth_session_key
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.exceptions import ValidationError
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from prm.roles import VENDOR_ROLES, role_of
from prm.throttles import sign_in_locked_message

# Set in the session (to the user's id) once its user is known to meet the requirement: a
# partner person, or staff with an authenticator app. The middleware then reads only the
# session on each request, not the user's authenticators.
SESSION_KEY = "prm_mfa_ok"
# Set in a single sign-on's state (allauth's SocialLogin.state) when the vendor's set-up
# trusts its identity provider to have asked for a second factor.
MFA_BY_IDP = "prm_mfa_by_idp"


# Pages a staff member without two-factor sign-in may still open: setting it up (under
# /auth/, with signing out and the password pages), static files, the language switch and
# the health checks.
OPEN_PREFIXES = ("/auth/", "/static/", "/i18n/", "/healthz/", "/readyz/", "/favicon.ico")


def mfa_required(user) -> bool:
    """Staff roles sign in with a second factor (partner people may choose to)."""
    return role_of(user) in VENDOR_ROLES


def has_totp(user) -> bool:
    return Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.TOTP).exists()


def meets_requirement(user) -> bool:
    return not mfa_required(user) or has_totp(user)


class StaffMfaRequiredMiddleware:
    """Send a signed-in staff member who has no authenticator app to set one up."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        user_id = session.get(auth_session_key) if session is not None else None
        if (
            user_id is not None
            and session.get(SESSION_KEY) != str(user_id)
            and not request.path.startswith(OPEN_PREFIXES)
        ):
            user = request.user
            if user.is_authenticated:
                if not meets_requirement(user):
                    return self._set_up_first(request)
                session[SESSION_KEY] = str(user.pk)
        return self.get_response(request)

    def _set_up_first(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            return JsonResponse(
                {
                    "detail": _("Set up two-factor authentication in the portal first."),
                    "code": "mfa_setup_required",
                },
                status=403,
            )
        messages.info(
            request,
            _(
                "Your role signs in with two-factor authentication: set up an authenticator "
                "app to continue."
            ),
        )
        return redirect("mfa_activate_totp")


@receiver(user_logged_in, dispatch_uid="prm.mfa.requirement_on_login")
def _remember_requirement_on_login(sender, request, user, **kwargs) -> None:
    # Judged once at sign-in (the code step has just read the authenticators), so the
    # middleware asks nothing afterwards. Also for the test client's force_login.
    session = getattr(request, "session", None)
    if session is not None and meets_requirement(user):
        session[SESSION_KEY] = str(user.pk)


def _second_factor_by_idp(signal_kwargs: dict | None) -> bool:
    sociallogin = (signal_kwargs or {}).get("sociallogin")
    return bool(sociallogin is not None and sociallogin.state.get(MFA_BY_IDP))


@receiver(allauth_user_logged_in, dispatch_uid="prm.mfa.requirement_met_by_idp")
def _remember_idp_second_factor(sender, request, user, **kwargs) -> None:
    # allauth's signal (after Django's): it carries the single sign-on, if that is how the
    # person signed in. An identity provider trusted for two-factor sign-in meets the
    # requirement until the person signs out.
    if _second_factor_by_idp(kwargs) and getattr(request, "session", None) is not None:
        request.session[SESSION_KEY] = str(user.pk)


class AuthenticateStage(AllauthAuthenticateStage):
    """allauth's code step at sign-in, skipped for a single sign-on whose identity provider
    the vendor's set-up trusts to have asked for a second factor."""

    def _should_handle(self, request: HttpRequest) -> bool:
        if _second_factor_by_idp(self.login.signal_kwargs):
            return False
        return super()._should_handle(request)


@receiver(authenticator_added, dispatch_uid="prm.mfa.enrolled")
def _remember_enrolment(sender, request, user, authenticator, **kwargs) -> None:
    if authenticator.type == Authenticator.Type.TOTP and request is not None:
        request.session[SESSION_KEY] = str(user.pk)


@receiver(authenticator_removed, dispatch_uid="prm.mfa.unenrolled")
def _forget_enrolment(sender, request, user, authenticator, **kwargs) -> None:
    if authenticator.type == Authenticator.Type.TOTP and request is not None:
        request.session.pop(SESSION_KEY, None)


class AuthenticateForm(AllauthAuthenticateForm):
    """allauth's two-factor code form (sign-in, and the API's token request), with failed
    codes counted by axes under the user's name and the client's address."""

    def clean_code(self) -> str:
        request = context.request
        credentials = {"login": self.user.get_username()}
        if not AxesProxyHandler.is_allowed(request, credentials):
            # axes' middleware turns the answer into the lockout page (429).
            request.axes_locked_out = True
            raise ValidationError(sign_in_locked_message(), code="locked")
        return super().clean_code()

    def _emit_authentication_failed(self, authenticator: Authenticator) -> None:
        super()._emit_authentication_failed(authenticator)
        user_login_failed.send(
            sender=__name__,
            credentials={"login": self.user.get_username()},
            request=context.request,
        )
