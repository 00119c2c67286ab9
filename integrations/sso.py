"""Single sign-on at the sign-in page: allauth's adapters and forms, told by the
organisations' set-ups (``SsoSetup``) where to send a person and whom to let in.

- The sign-in form sends ``name@domain`` to the identity provider of the set-up holding
  that domain (when its password is left empty, or always when the organisation turned
  passwords off); anything else signs in with the password, as before.
- The identity provider's answer is turned into a login by ``services.sso_sign_in_user``:
  the login already linked, or the one with the same e-mail in the same organisation, or
  a new one (just in time); never one of another organisation.
- An organisation that turned passwords off has them refused at the sign-in form, the API's
  token request and the password reset.
- Staff who sign in through the vendor's identity provider still give the authenticator
  app's code, unless the vendor's set-up says the IdP enforces a second factor (prm.mfa).
"""

import logging
import time
from urllib.parse import urlsplit

from allauth.account import app_settings as account_settings
from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.account.forms import ResetPasswordForm as AllauthResetPasswordForm
from allauth.account.forms import ResetPasswordKeyForm as AllauthResetPasswordKeyForm
from allauth.account.internal.flows.login import get_authentication_records
from allauth.core import context as allauth_context
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.base import AuthError, AuthProcess
from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext

from partners.adapters import AccountAdapter as PartnersAccountAdapter
from partners.models import User
from prm.mfa import MFA_BY_IDP

from . import services
from .models import SsoProtocol, SsoSetup
from .queries import sso_setup_for_app, sso_setup_for_login, sso_setup_of_user

logger = logging.getLogger(__name__)


def passwords_off_message(setup: SsoSetup) -> str:
    return gettext(
        "%(organisation)s signs in through its identity provider, not with a password "
        "here: type your work e-mail address, leave the password empty and continue."
    ) % {"organisation": setup.organisation_name}


def answer_refused_message() -> str:
    return gettext(
        "The identity provider's answer could not be accepted, so you are not signed in. "
        "Start again from the sign-in page; if it happens again, tell the vendor's channel "
        "team."
    )


def refusal_page(request: HttpRequest, message: str, *, status: int = 403) -> HttpResponse:
    return render(request, "socialaccount/sso_refused.html", {"message": message}, status=status)


# ---------------------------------------------------------------- passwords


class AccountAdapter(PartnersAccountAdapter):
    """The portal's account adapter, with the set-ups' rules on passwords."""

    def authenticate(self, request, **credentials) -> User | None:
        user = super().authenticate(request, **credentials)
        if user is not None:
            setup = sso_setup_of_user(user)
            if setup is not None and not setup.password_sign_in:
                # Said only once the password proved right, so it tells a guesser nothing.
                raise ValidationError(passwords_off_message(setup), code="sso_required")
        return user

    def is_reauthentication_required(self, *, app: str = "", **kwargs) -> bool:
        """A person who signs in only through an identity provider has nothing to confirm
        here (no password; maybe no authenticator app yet): their sign-in counts as recent
        for as long as a confirmed password would. Everyone else confirms as allauth asks."""
        required = super().is_reauthentication_required(app=app, **kwargs)
        request = allauth_context.request
        user = getattr(request, "user", None)
        if not required or user is None or not user.is_authenticated:
            return required
        if user.has_usable_password():
            return required
        from allauth.mfa.utils import is_mfa_enabled

        if is_mfa_enabled(user):
            return required
        records = get_authentication_records(request, user)
        recent = [
            record
            for record in records
            if record.get("method") == "socialaccount"
            and time.time() - record["at"] < account_settings.REAUTHENTICATION_TIMEOUT
        ]
        return not recent


class ResetPasswordForm(AllauthResetPasswordForm):
    """No reset link for an organisation that turned passwords off: an address in one of
    its domains is told so; anyone else of it simply gets no mail (as for an unknown
    address, so the form tells nobody who has a login)."""

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]
        setup = sso_setup_for_login(email)
        if setup is not None and not setup.password_sign_in:
            raise ValidationError(
                gettext(
                    "%(organisation)s signs in through its identity provider: there is no "
                    "password here to reset. Sign in with your work e-mail address."
                )
                % {"organisation": setup.organisation_name},
                code="sso_required",
            )
        email = super().clean_email()
        allowed = [user for user in self.users if _passwords_allowed(user)]
        # Everyone with this address signs in through an IdP: no mail at all (allauth would
        # otherwise mail an "unknown account" notice, which would be untrue).
        self.sso_only = bool(self.users) and not allowed
        self.users = allowed
        return email

    def save(self, request, **kwargs) -> str:
        if getattr(self, "sso_only", False):
            return self.cleaned_data["email"]
        return super().save(request, **kwargs)


class ResetPasswordKeyForm(AllauthResetPasswordKeyForm):
    """A reset link mailed before the organisation turned passwords off sets none."""

    def clean(self) -> dict:
        cleaned = super().clean()
        setup = sso_setup_of_user(self.user) if self.user is not None else None
        if setup is not None and not setup.password_sign_in:
            raise ValidationError(passwords_off_message(setup), code="sso_required")
        return cleaned


def _passwords_allowed(user) -> bool:
    setup = sso_setup_of_user(user)
    return setup is None or setup.password_sign_in


# ---------------------------------------------------------------- the sign-in form


class LoginForm(AllauthLoginForm):
    """allauth's sign-in form, which first asks whether the login names a domain with single
    sign-on: then, with no password typed (or passwords turned off there), the answer is
    the hop to that organisation's identity provider."""

    sso_setup: SsoSetup | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["password"].required = False

    def clean(self) -> dict:
        cleaned = forms.Form.clean(self)
        if self._errors:
            return cleaned
        login = cleaned.get("login") or ""
        password = cleaned.get("password") or ""
        setup = sso_setup_for_login(login)
        if setup is not None and (not password or not setup.password_sign_in):
            self.sso_setup = setup
            return cleaned
        if not password:
            self.add_error("password", forms.Field.default_error_messages["required"])
            return cleaned
        return super().clean()

    def login(self, request: HttpRequest, redirect_url: str | None = None) -> HttpResponse:
        if self.sso_setup is None:
            return super().login(request, redirect_url=redirect_url)
        return sso_start(
            request,
            self.sso_setup,
            login_hint=self.cleaned_data.get("login") or "",
            next_url=redirect_url,
            form=self,
        )


def sso_start(
    request: HttpRequest,
    setup: SsoSetup,
    *,
    login_hint: str = "",
    next_url: str | None = None,
    form: LoginForm | None = None,
) -> HttpResponse:
    """Begin the sign-in at ``setup``'s identity provider (allauth stashes the state in the
    session) and answer with the page that hops there. Only ever called for a POST, like
    allauth's own provider buttons: a GET must not start a sign-in."""
    from allauth.socialaccount.adapter import get_adapter

    problem = None
    try:
        app = get_adapter().get_app(
            request,
            provider=setup.app.provider_id if setup.protocol == SsoProtocol.OIDC else "saml",
            client_id=None if setup.protocol == SsoProtocol.OIDC else setup.app.client_id,
        )
        provider = app.get_provider(request)
        kwargs = {}
        if setup.protocol == SsoProtocol.OIDC and login_hint:
            kwargs["auth_params"] = {**provider.get_auth_params(), "login_hint": login_hint}
        response = provider.redirect(request, AuthProcess.LOGIN, next_url=next_url, **kwargs)
    except SocialApp.DoesNotExist:
        problem = "no identity provider"
    except Exception as exc:  # the IdP unreachable, its metadata or discovery document bad
        logger.warning(
            "SSO of %s could not start: %s: %s",
            setup.organisation_name,
            exc.__class__.__name__,
            str(exc)[:300],
        )
        problem = exc.__class__.__name__
    else:
        location = response.get("Location") if response.status_code in (301, 302) else None
        return hop_page(request, setup, location) if location else response
    message = gettext(
        "The sign-in through the identity provider of %(organisation)s cannot start: it does "
        "not answer or is not set up correctly. Try again in a few minutes; if it persists, "
        "tell the vendor's channel team."
    ) % {"organisation": setup.organisation_name}
    logger.info("SSO start refused for set-up %s: %s", setup.pk, problem)
    if form is None:
        return refusal_page(request, message, status=502)
    form.add_error(None, message)
    return render(
        request,
        "account/login.html",
        {"form": form, "redirect_field_name": "next", "redirect_field_value": next_url},
        status=400,
    )


def hop_page(request: HttpRequest, setup: SsoSetup, location: str) -> HttpResponse:
    """The page that goes on to the identity provider at ``location``. A page of ours, not
    a redirect: the Content-Security-Policy (form-action 'self') stops a form's answer from
    redirecting to another site; a meta refresh and a link are not forms."""
    page = render(
        request,
        "account/sso_continue.html",
        {"setup": setup, "location": location, "idp_host": urlsplit(location).netloc},
    )
    page["Cache-Control"] = "no-store"
    return page


# ---------------------------------------------------------------- the identity provider's answer


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """allauth's side of the identity providers: only those of switched-on set-ups exist;
    who signs in is ``services.sso_sign_in_user``'s decision."""

    def list_apps(self, request, provider=None, client_id=None) -> list[SocialApp]:
        apps = super().list_apps(request, provider=provider, client_id=client_id)
        active = set(
            SsoSetup.objects.filter(
                is_active=True, app_id__in=[app.pk for app in apps if app.pk]
            ).values_list("app_id", flat=True)
        )
        found = []
        for app in apps:
            if app.pk in active:
                app.secret = services.secret_from_environment(app.secret)
                found.append(app)
        return found

    def is_open_for_signup(self, request, sociallogin) -> bool:
        # Never reached with a new login: pre_social_login makes or finds it first.
        return True

    def pre_social_login(self, request, sociallogin) -> None:
        app = sociallogin.provider.app
        setup = sso_setup_for_app(getattr(app, "pk", None))
        if setup is None or not setup.is_active:
            raise ImmediateHttpResponse(
                refusal_page(request, gettext("This identity provider is not set up for sign-in."))
            )
        if sociallogin.state.get("process", AuthProcess.LOGIN) != AuthProcess.LOGIN:
            # Linking an identity provider to the signed-in person is not offered: a link is
            # only ever made by the set-up's own rules.
            raise ImmediateHttpResponse(
                refusal_page(request, gettext("Sign in through the sign-in page."), status=400)
            )
        user = sociallogin.user
        email = (user.email if user else "") or next(
            (address.email for address in sociallogin.email_addresses), ""
        )
        try:
            resolved, _made = services.sso_sign_in_user(
                setup=setup,
                linked_user=user if sociallogin.is_existing else None,
                email=email,
                first_name=getattr(user, "first_name", "") or "",
                last_name=getattr(user, "last_name", "") or "",
                claims=claims_of(sociallogin),
            )
        except services.SsoRefused as refused:
            raise ImmediateHttpResponse(refusal_page(request, refused.message)) from None
        if not sociallogin.is_existing:
            sociallogin.connect(request, resolved)
        if setup.for_staff and setup.idp_enforces_mfa:
            sociallogin.state[MFA_BY_IDP] = True

    def on_authentication_error(
        self, request, provider, error=None, exception=None, extra_context=None
    ) -> None:
        """A failed answer from the identity provider (refused, cancelled, tampered with,
        unreachable): the person sees why, with a 4xx, never allauth's bare page."""
        logger.warning(
            "SSO error from %s: %s %s %s",
            getattr(getattr(provider, "app", None), "provider_id", provider),
            error,
            exception.__class__.__name__ if exception else "",
            (extra_context or {}).get("saml_last_error_reason", ""),
        )
        if error == AuthError.CANCELLED:
            message = gettext("The sign-in was cancelled at the identity provider.")
        else:
            message = answer_refused_message()
        raise ImmediateHttpResponse(refusal_page(request, message, status=400))


def claims_of(sociallogin) -> dict:
    """The identity provider's claims (OpenID Connect: the ID token's and the user info's)
    or attributes (SAML), where the set-up's role claim is looked up."""
    data = sociallogin.account.extra_data or {}
    if "userinfo" in data or "id_token" in data:
        return {**(data.get("id_token") or {}), **(data.get("userinfo") or {})}
    return dict(data)
