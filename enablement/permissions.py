"""Admin and API permissions of the enablement app (django-rules)."""

import rules

from prm.roles import is_manager_or_higher, is_vendor_admin, is_vendor_staff

rules.add_perm("enablement.view_certificationtype", is_vendor_staff)
rules.add_perm("enablement.view_certification", is_vendor_staff)
for action in ("add", "change", "delete"):
    rules.add_perm(f"enablement.{action}_certification", is_manager_or_higher)
    rules.add_perm(f"enablement.{action}_certificationtype", is_vendor_admin)

for model in ("trainingcompletion", "eventattendance"):
    rules.add_perm(f"enablement.add_{model}", is_manager_or_higher)

for model in (
    "partnerapplication",
    "profilecriterion",
    "recruitmenttarget",
    "milestone",
    "onboardingtask",
    "contentitem",
    "comarketingactivity",
    "campaign",
):
    rules.add_perm(f"enablement.view_{model}", is_vendor_staff)
for action in ("add", "change", "delete"):
    rules.add_perm(f"enablement.{action}_contentitem", is_manager_or_higher)
    for model in ("profilecriterion", "recruitmenttarget", "milestone", "comarketingactivity"):
        rules.add_perm(f"enablement.{action}_{model}", is_vendor_admin)
