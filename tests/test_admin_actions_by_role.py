"""Each staff role sees only the actions it may take in the admin."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

RUN = "admin:scoring_quarterclose_run"


@pytest.mark.parametrize(
    ("who", "sees"),
    [("chief", True), ("vendor_admin", True), ("executive", False), ("finance", False)],
)
def test_run_a_quarter_close_only_for_those_who_may(client, request, who, sees):
    client.force_login(request.getfixturevalue(who))
    page = client.get(reverse("admin:scoring_quarterclose_changelist"))
    assert page.status_code == 200
    assert (reverse(RUN) in page.content.decode()) is sees
    assert (client.get(reverse(RUN)).status_code == 200) is sees


@pytest.mark.parametrize(("who", "sees"), [("manager", True), ("executive", False)])
def test_invite_a_user_only_for_the_partners_managers(client, request, partner_a, who, sees):
    client.force_login(request.getfixturevalue(who))
    page = client.get(reverse("admin:partners_partner_change", args=[partner_a.pk]))
    assert page.status_code == 200
    invite = reverse("admin:partners_partner_invite", args=[partner_a.pk])
    assert (invite in page.content.decode()) is sees


@pytest.mark.parametrize(("who", "sees"), [("manager", True), ("executive", False)])
def test_import_leads_only_for_those_who_may_add_them(client, request, who, sees):
    client.force_login(request.getfixturevalue(who))
    page = client.get(reverse("admin:partners_lead_changelist"))
    assert page.status_code == 200
    assert (reverse("admin:partners_lead_import") in page.content.decode()) is sees
