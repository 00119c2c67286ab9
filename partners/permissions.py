"""Object permissions (django-rules) for the admin and the API, in terms of ``prm.roles``.

Scope (which rows) is decided by ``partners.queries.scope_to_user``; these decide which
actions a role may take. Executives read everything and write nothing.
"""

import rules

from prm.roles import (
    handles_payments,
    is_channel_chief,
    is_executive,
    is_manager_or_higher,
    is_partner_person,
    is_vendor_admin,
    is_vendor_staff,
    sees_all_partners,
)

from .models import PartnerRole


@rules.predicate
def is_partner_admin(user) -> bool:
    if not is_partner_person(user):
        return False
    membership = getattr(user, "membership", None)
    return membership is not None and membership.role == PartnerRole.ADMIN


@rules.predicate
def manages_partner(user, partner) -> bool:
    """Channel managers act on their own partners; chiefs and admins on all. The same
    rule as ``partners.queries.partners_writable_by``, for one partner and without a query."""
    if partner is None:
        return is_manager_or_higher(user)
    if not is_manager_or_higher(user):
        return False
    if user.role == "channel_manager" and not user.is_superuser:
        return partner.channel_manager_id == user.pk
    return True


@rules.predicate
def is_own_partner_admin(user, partner) -> bool:
    if partner is None or not is_partner_admin(user):
        return False
    return user.membership.partner_id == partner.pk


can_invite_partner_users = manages_partner | is_own_partner_admin

# The admin's module and model permissions. Rows are scoped separately.
for app in ("partners", "enablement", "deals", "incentives", "scoring"):
    rules.add_perm(app, is_vendor_staff)

for model in ("partner", "partneruser", "account", "lead", "tierchange", "program", "tier"):
    rules.add_perm(f"partners.view_{model}", is_vendor_staff)
# Every login of every partner: only roles that see all partners (a channel manager finds
# the people of their own partners under "Partner users", which is scoped).
rules.add_perm("partners.view_user", sees_all_partners)
for model in ("partner", "partneruser", "account", "lead"):
    rules.add_perm(f"partners.add_{model}", is_manager_or_higher)
    rules.add_perm(f"partners.change_{model}", is_manager_or_higher)
rules.add_perm("partners.delete_partneruser", is_manager_or_higher)
rules.add_perm("partners.delete_lead", is_manager_or_higher)
for model in ("program", "tier", "user"):
    for action in ("add", "change", "delete"):
        rules.add_perm(f"partners.{action}_{model}", is_vendor_admin)
rules.add_perm("partners.change_tierchange", rules.always_deny)
# Finance keeps the exchange-rate table (RULEBOOK §12); every member of staff reads it.
rules.add_perm("partners.view_exchangerate", is_vendor_staff)
for action in ("add", "change", "delete"):
    rules.add_perm(f"partners.{action}_exchangerate", handles_payments)
# Lead distribution (RULEBOOK §11): every staff member reads the routing rules and each
# lead's offers; the routing rules are program data that chiefs and administrators edit.
rules.add_perm("partners.view_routingrule", is_vendor_staff)
rules.add_perm("partners.view_leadoffer", is_vendor_staff)
for action in ("add", "change", "delete"):
    rules.add_perm(f"partners.{action}_routingrule", is_vendor_admin | is_channel_chief)

# API tokens in the admin: staff see their own (admins everyone's: the queryset is scoped)
# and revoke them, except executives, whose admin is read-only (they revoke in the portal).
rules.add_perm("partners.view_apitoken", is_vendor_staff)
rules.add_perm("partners.revoke_apitoken", is_vendor_staff & ~is_executive)

rules.add_perm("partners.invite_user", can_invite_partner_users)
rules.add_perm("partners.manage_partner", manages_partner)
