"""Reads of the webhooks shared by the portal, the API and the admin, and the one place
that decides which subscriptions a user sees: chiefs, executives, finance and
administrators every one (the vendor's too); a channel manager those of their partners; a
partner's admin their partner's; anyone else (a partner's reps included: an address may
itself be a credential) none."""

from django.db.models import QuerySet
from django.http import Http404

from partners.models import Partner, PartnerRole
from partners.queries import partner_id_of, partner_role_of, partners_writable_by
from prm.roles import ALL_PARTNER_ROLES, VENDOR_ROLES, Role, role_of

from .models import SsoDomain, SsoSetup, WebhookDelivery, WebhookSubscription
from .rules import email_domain


def _scope(queryset: QuerySet, user, *, partner_field: str) -> QuerySet:
    role = role_of(user)
    if role in ALL_PARTNER_ROLES:
        return queryset
    if role == Role.CHANNEL_MANAGER:
        return queryset.filter(**{f"{partner_field}__channel_manager": user})
    if role == Role.PARTNER and partner_role_of(user) == PartnerRole.ADMIN:
        return queryset.filter(**{partner_field: partner_id_of(user)})
    return queryset.none()


def webhooks_visible_to(user) -> QuerySet[WebhookSubscription]:
    return _scope(
        WebhookSubscription.objects.select_related("partner"), user, partner_field="partner"
    )


def webhook_for_user(user, subscription_id) -> WebhookSubscription:
    """The subscription if the user may see it; 404 otherwise (never 403)."""
    try:
        return webhooks_visible_to(user).get(pk=int(subscription_id))
    except (WebhookSubscription.DoesNotExist, ValueError, TypeError, OverflowError) as exc:
        raise Http404("No such webhook subscription.") from exc


def deliveries_visible_to(user) -> QuerySet[WebhookDelivery]:
    """The delivery log of the subscriptions the user sees, newest first, each with its
    event and subscription (one query a page)."""
    return _scope(
        WebhookDelivery.objects.select_related("event", "subscription"),
        user,
        partner_field="subscription__partner",
    ).order_by("-created_at", "-id")


def delivery_for_user(user, delivery_id) -> WebhookDelivery:
    try:
        return deliveries_visible_to(user).get(pk=int(delivery_id))
    except (WebhookDelivery.DoesNotExist, ValueError, TypeError, OverflowError) as exc:
        raise Http404("No such webhook delivery.") from exc


def webhook_partners_for(user) -> QuerySet[Partner]:
    """The partners ``user`` may subscribe for: their own (a partner's admin), the partners
    they write for (managers and above)."""
    if role_of(user) == Role.PARTNER:
        if partner_role_of(user) == PartnerRole.ADMIN:
            return Partner.objects.filter(pk=partner_id_of(user))
        return Partner.objects.none()
    return partners_writable_by(user)


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
