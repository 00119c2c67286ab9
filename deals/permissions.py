"""Admin and API permissions of the deals app (django-rules)."""

import rules

from prm.roles import is_vendor_admin, is_vendor_staff

rules.add_perm("deals.view_deal", is_vendor_staff)
rules.add_perm("deals.view_product", is_vendor_staff)
for action in ("add", "change", "delete"):
    rules.add_perm(f"deals.{action}_product", is_vendor_admin)

rules.add_perm("deals.view_conflictcase", is_vendor_staff)
