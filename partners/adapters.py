from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.contrib.sites.shortcuts import get_current_site

from prm.mail import mail_on_commit

from .models import User


class AccountAdapter(DefaultAccountAdapter):
    """Partners join by invitation or application, never by open sign-up. Failed sign-ins
    are counted by axes, in the database; an inactive login is refused as a wrong
    password is; a new password ends the user's API tokens."""

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        """allauth's mails (a password-reset link) go through the worker like every other
        mail, after the request's transaction: never sent inside the request."""
        request = allauth_context.request
        message = self.render_mail(
            template_prefix,
            email,
            {
                "request": request,
                "email": email,
                "current_site": get_current_site(request),
                **context,
            },
        )
        html = next(
            (c for c, kind in getattr(message, "alternatives", []) if kind == "text/html"), None
        )
        if message.content_subtype == "html":  # a template with an HTML body only
            html = message.body
        mail_on_commit(
            message.subject, message.body, message.to, html=html, from_email=message.from_email
        )

    def is_open_for_signup(self, request) -> bool:
        return False

    def pre_authenticate(self, request, **credentials) -> None:
        # allauth would count failed passwords in the cache, which forgets them while Redis
        # is down; axes (the first authentication backend) counts them in the database and
        # answers a lockout with 429. One count, one answer.
        return None

    def authenticate(self, request, **credentials) -> User | None:
        user = super().authenticate(request, **credentials)
        # allauth hands back an inactive user whose password was right, to show its
        # "account inactive" page; that page would tell a guesser the password is right.
        # The attempt fails like any other (axes has already counted it as a failure).
        if user is not None and not user.is_active:
            return None
        return user

    def get_login_stages(self) -> list[str]:
        # The code step, skipped for a single sign-on trusted for two-factor sign-in (prm.mfa).
        return [
            "prm.mfa.AuthenticateStage"
            if stage == "allauth.mfa.stages.AuthenticateStage"
            else stage
            for stage in super().get_login_stages()
        ]

    def set_password(self, user, password: str) -> None:
        """Password change, set and reset all come here."""
        from .services import user_tokens_revoke

        super().set_password(user, password)
        user_tokens_revoke(user=user, reason="password changed")
