"""Reads of the integrations shared by the sign-in pages, the admin and the services."""

from django.db.models import QuerySet

from prm.roles import VENDOR_ROLES, Role

from .models import SsoDomain, SsoSetup
from .rules import email_domain


def sso_setups() -> QuerySet[SsoSetup]:
    return SsoSetup.objects.select_related("app", "partner")


def sso_setup_for_login(login: str) -> SsoSetup | None:
    """The switched-on set-up whose e-mail domains hold what was typed on the sign-in page
    (``name@domain``), or ``None``."""
    domain = email_domain(login)
    if not domain:
        return None
    row = (
        SsoDomain.objects.select_related("setup__app", "setup__partner")
        .filter(domain=domain, setup__is_active=True)
        .first()
    )
    return row.setup if row else None


def sso_setup_for_app(app_id: int | None) -> SsoSetup | None:
    if app_id is None:
        return None
    return sso_setups().filter(app_id=app_id).first()


def organisation_of(user) -> int | str | None:
    """Where a login belongs: its partner's id, ``"vendor"`` for the staff roles, ``None``
    for a login of neither (a partner role without a membership)."""
    if user.is_superuser or getattr(user, "role", None) in VENDOR_ROLES:
        return "vendor"
    if getattr(user, "role", None) == Role.PARTNER:
        membership = getattr(user, "membership", None) if user.pk else None
        return membership.partner_id if membership is not None else None
    return None


def sso_setup_of_user(user) -> SsoSetup | None:
    """The switched-on set-up of the organisation ``user`` belongs to, or ``None``."""
    organisation = organisation_of(user)
    if organisation is None:
        return None
    setups = sso_setups().filter(is_active=True)
    if organisation == "vendor":
        return setups.filter(partner__isnull=True).first()
    return setups.filter(partner_id=organisation).first()
