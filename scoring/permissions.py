"""Admin and API permissions of the scoring app (django-rules)."""

import rules

from prm.roles import is_vendor_staff

for model in ("scorecard", "quarterclose"):
    rules.add_perm(f"scoring.view_{model}", is_vendor_staff)
rules.add_perm("partners.view_redflag", is_vendor_staff)
rules.add_perm("partners.view_outreachtask", is_vendor_staff)
for model in ("loginday", "trainingcompletion", "eventattendance"):
    rules.add_perm(f"enablement.view_{model}", is_vendor_staff)
