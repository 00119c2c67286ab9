"""Admin permissions of the integrations app (django-rules). Who may manage which webhook
subscriptions (the API and the portal ask ``can_manage_webhook``; which rows a user sees
is ``integrations.queries``), and who reads and acts on the CRM sync."""

import rules

from partners.permissions import is_own_partner_admin, manages_partner
from prm.roles import (
    Role,
    is_manager_or_higher,
    is_vendor_admin,
    is_vendor_staff,
    role_of,
    sees_all_partners,
)

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

# The CRM sync: every member of the vendor's staff reads it; the managers act on the error
# queue (rows scoped to their partners); only administrators change the connections and
# field mappings.
for model in ("syncrecord", "syncerror"):
    rules.add_perm(f"integrations.view_{model}", is_vendor_staff)
    rules.add_perm(f"integrations.change_{model}", is_manager_or_higher)
for model in ("crmconnection", "fieldmapping"):
    rules.add_perm(f"integrations.view_{model}", sees_all_partners)
    rules.add_perm(f"integrations.change_{model}", is_vendor_admin)
rules.add_perm("integrations.add_fieldmapping", is_vendor_admin)
rules.add_perm("integrations.delete_fieldmapping", is_vendor_admin)


# Single sign-on decides who may sign in, as what, and for staff whether a second factor
# is asked here: administrators only (the app itself shows to all staff, above).
for action in ("view", "add", "change", "delete"):
    rules.add_perm(f"integrations.{action}_ssosetup", is_vendor_admin)
