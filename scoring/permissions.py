"""Admin and API permissions of the scoring app (django-rules)."""

import rules

from prm.roles import handles_payments, is_manager_or_higher, is_vendor_staff

for model in ("scorecard", "quarterclose"):
    rules.add_perm(f"scoring.view_{model}", is_vendor_staff)
rules.add_perm("partners.view_redflag", is_vendor_staff)
rules.add_perm("partners.view_outreachtask", is_vendor_staff)
for model in ("loginday", "trainingcompletion", "eventattendance"):
    rules.add_perm(f"enablement.view_{model}", is_vendor_staff)

# The company's revenue per quarter: finance (and admins) enter it; every staff role reads it.
rules.add_perm("scoring.view_companyrevenue", is_vendor_staff)
for action in ("add", "change"):
    rules.add_perm(f"scoring.{action}_companyrevenue", handles_payments)

# QBRs and joint business plans: staff read them; managers and above write them (rows are
# scoped, and a manager acts only on their own partners).
for model in ("qbr", "qbractionitem", "jointbusinessplan"):
    rules.add_perm(f"scoring.view_{model}", is_vendor_staff)
    rules.add_perm(f"scoring.add_{model}", is_manager_or_higher)
    rules.add_perm(f"scoring.change_{model}", is_manager_or_higher)

# Scorecard disputes: staff read them; the partner's channel manager (a chief, an admin)
# answers (rows are scoped; the answer is checked against the partner's manager too).
rules.add_perm("scoring.view_scorecarddispute", is_vendor_staff)
rules.add_perm("scoring.change_scorecarddispute", is_manager_or_higher)
