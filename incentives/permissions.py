"""Admin and API permissions of the money engine (django-rules)."""

import rules

from prm.roles import handles_payments, is_manager_or_higher, is_vendor_staff

for model in (
    "ledgerentry",
    "incentiveclaim",
    "contribution",
    "mdffund",
    "mdfrequest",
    "mdfclaim",
):
    rules.add_perm(f"incentives.view_{model}", is_vendor_staff)
rules.add_perm("incentives.decide", is_manager_or_higher)
rules.add_perm("incentives.pay", handles_payments)
