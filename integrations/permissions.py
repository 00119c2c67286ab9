"""Admin permissions of the integrations app (django-rules): every member of the vendor's
staff reads the CRM sync; the managers act on the error queue (rows scoped to their
partners); only administrators change the connections and field mappings."""

import rules

from prm.roles import is_manager_or_higher, is_vendor_admin, is_vendor_staff, sees_all_partners

rules.add_perm("integrations", is_vendor_staff)
for model in ("syncrecord", "syncerror"):
    rules.add_perm(f"integrations.view_{model}", is_vendor_staff)
    rules.add_perm(f"integrations.change_{model}", is_manager_or_higher)
for model in ("crmconnection", "fieldmapping"):
    rules.add_perm(f"integrations.view_{model}", sees_all_partners)
    rules.add_perm(f"integrations.change_{model}", is_vendor_admin)
rules.add_perm("integrations.add_fieldmapping", is_vendor_admin)
rules.add_perm("integrations.delete_fieldmapping", is_vendor_admin)
