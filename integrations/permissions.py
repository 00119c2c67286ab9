"""The admin's permissions on the integrations (rules; rows are not partner-scoped here)."""

import rules

from prm.roles import is_vendor_admin

# Single sign-on decides who may sign in, as what, and for staff whether a second factor
# is asked here: administrators only.
rules.add_perm("integrations", is_vendor_admin)
for action in ("view", "add", "change", "delete"):
    rules.add_perm(f"integrations.{action}_ssosetup", is_vendor_admin)
