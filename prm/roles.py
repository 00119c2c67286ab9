"""Who a user is, in one place: the vendor-side roles and their predicates.

Partner people are users whose ``role`` is ``partner``; whether they are their partner's
admin or a rep is on their membership (``partners.PartnerUser``). The predicates here
look only at the user row; partner-specific predicates live in ``partners.permissions``.
"""

import rules
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    PARTNER = "partner", _("Partner user")
    CHANNEL_MANAGER = "channel_manager", _("Channel manager")
    CHANNEL_CHIEF = "channel_chief", _("Channel chief")
    EXECUTIVE = "executive", _("Executive")
    FINANCE = "finance", _("Finance")
    ADMIN = "admin", _("Administrator")


VENDOR_ROLES = frozenset(
    {Role.CHANNEL_MANAGER, Role.CHANNEL_CHIEF, Role.EXECUTIVE, Role.FINANCE, Role.ADMIN}
)
# Roles that see every partner of the program.
ALL_PARTNER_ROLES = frozenset({Role.CHANNEL_CHIEF, Role.EXECUTIVE, Role.FINANCE, Role.ADMIN})
# Roles that export payment runs and mark ledger entries paid.
PAYMENT_ROLES = frozenset({Role.FINANCE, Role.ADMIN})
# Roles that decide disputed incentive claims (RULEBOOK §6: the channel chief).
DISPUTE_ROLES = frozenset({Role.CHANNEL_CHIEF, Role.ADMIN})
# Roles that may write program data: "manager" in API.md means channel manager or higher.
MANAGER_ROLES = frozenset({Role.CHANNEL_MANAGER, Role.CHANNEL_CHIEF, Role.ADMIN})


def role_of(user) -> str | None:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if user.is_superuser:
        return Role.ADMIN
    return getattr(user, "role", None)


@rules.predicate
def is_vendor_admin(user) -> bool:
    return role_of(user) == Role.ADMIN


@rules.predicate
def is_channel_chief(user) -> bool:
    return role_of(user) == Role.CHANNEL_CHIEF


@rules.predicate
def is_channel_manager(user) -> bool:
    return role_of(user) == Role.CHANNEL_MANAGER


@rules.predicate
def is_executive(user) -> bool:
    return role_of(user) == Role.EXECUTIVE


@rules.predicate
def is_partner_person(user) -> bool:
    return role_of(user) == Role.PARTNER


@rules.predicate
def is_vendor_staff(user) -> bool:
    return role_of(user) in VENDOR_ROLES


@rules.predicate
def is_manager_or_higher(user) -> bool:
    return role_of(user) in MANAGER_ROLES


@rules.predicate
def sees_all_partners(user) -> bool:
    return role_of(user) in ALL_PARTNER_ROLES


@rules.predicate
def handles_payments(user) -> bool:
    return role_of(user) in PAYMENT_ROLES


@rules.predicate
def decides_disputes(user) -> bool:
    return role_of(user) in DISPUTE_ROLES
