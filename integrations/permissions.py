"""Who may manage which webhook subscriptions (django-rules, for the admin; the API and the
portal ask ``can_manage_webhook``). Which rows a user sees is ``integrations.queries``."""

import rules

from partners.permissions import is_own_partner_admin, manages_partner
from prm.roles import Role, is_manager_or_higher, is_vendor_staff, role_of

# The vendor's own subscriptions receive every partner's events: only the roles that see
# every partner and write (channel chiefs and administrators) manage them.
VENDOR_SUBSCRIPTION_ROLES = frozenset({Role.CHANNEL_CHIEF, Role.ADMIN})


def can_manage_webhook(user, partner) -> bool:
    """A subscription for ``partner`` (None: the vendor's): the partner's own admin, its
    channel manager, chiefs and administrators; the vendor's, chiefs and administrators."""
    if partner is None:
        return role_of(user) in VENDOR_SUBSCRIPTION_ROLES
    return bool(manages_partner(user, partner) or is_own_partner_admin(user, partner))


rules.add_perm("integrations", is_vendor_staff)
for model in ("webhooksubscription", "webhookdelivery"):
    rules.add_perm(f"integrations.view_{model}", is_vendor_staff)
for action in ("add", "change", "delete"):
    rules.add_perm(f"integrations.{action}_webhooksubscription", is_manager_or_higher)
rules.add_perm("integrations.redeliver_webhookdelivery", is_manager_or_higher)
