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


def _changelists(user) -> list[str]:
    from django.contrib import admin

    names = []
    for model, model_admin in admin.site._registry.items():
        request = type("Request", (), {"user": user})()
        if model_admin.has_view_or_change_permission(request):
            opts = model._meta
            names.append(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    return sorted(names)


@pytest.mark.parametrize("who", ["executive"])
def test_a_read_only_role_is_offered_no_action_anywhere_in_the_admin(
    client, request, who, manager, partner_a
):
    """Executives read everything and change nothing: no list offers them an action, an
    add button or a run button (each would end on a refusal)."""
    from tests.test_scope_sweep import admin_objects_of

    admin_objects_of(partner_a)  # a row in every list, so that actions would show
    client.force_login(manager)  # the control: a manager is offered the deal actions
    assert 'name="action"' in client.get(reverse("admin:deals_deal_changelist")).content.decode()
    user = request.getfixturevalue(who)
    client.force_login(user)
    lists = _changelists(user)
    assert len(lists) > 10
    offered = {}
    for name in lists:
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        page = response.content.decode()
        found = [
            marker
            for marker in ('name="action"', 'class="addlink"', reverse(RUN))
            if marker in page
        ]
        if found:
            offered[name] = found
    assert offered == {}
