"""The admin for channel managers: scoped lists, service-backed writes, read-only executives."""

import pytest
from django.urls import reverse

from partners.models import Lead, Partner, TierChange
from tests.admin_forms import change_form_data
from tests.factories import (
    AccountFactory,
    CertificationFactory,
    LeadFactory,
    PartnerFactory,
    default_tier,
)

pytestmark = pytest.mark.django_db


def test_manager_changelist_shows_only_assigned_partners(client, manager, partner_a, partner_b):
    client.force_login(manager)
    page = client.get(reverse("admin:partners_partner_changelist")).content.decode()
    assert "Alpha Systems" in page
    assert "Bravo Networks" not in page


def test_manager_cannot_open_another_managers_partner(client, manager, partner_b):
    client.force_login(manager)
    response = client.get(reverse("admin:partners_partner_change", args=[partner_b.pk]))
    # Outside the manager's scope the admin answers 404, as the portal and the API do.
    assert response.status_code == 404
    response = client.get(reverse("admin:partners_partner_invite", args=[partner_b.pk]))
    assert response.status_code == 404


def test_partner_user_cannot_reach_the_admin(client, a_admin, partner_a):
    client.force_login(a_admin)
    for url in (
        reverse("admin:index"),
        reverse("admin:partners_partner_changelist"),
        reverse("admin:partners_partner_change", args=[partner_a.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert reverse("admin:login") in response.url


def test_executive_reads_but_cannot_change(client, executive, partner_a):
    client.force_login(executive)
    assert client.get(reverse("admin:partners_partner_changelist")).status_code == 200
    url = reverse("admin:partners_partner_change", args=[partner_a.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    response = client.post(url, {"name": "Hijacked"})
    assert response.status_code == 403
    partner_a.refresh_from_db()
    assert partner_a.name == "Alpha Systems"
    assert client.get(reverse("admin:partners_partner_add")).status_code == 403


def _form(partner, **changes):
    data = {
        "name": partner.name,
        "domain": partner.domain,
        "tier": partner.tier_id,
        "status": partner.status,
        "annual_quota": "",
        "agreement_signed_on": partner.agreement_signed_on.isoformat(),
        "started_on": partner.started_on.isoformat(),
        "channel_manager": partner.channel_manager_id or "",
        "tier_reason": "",
        "members-TOTAL_FORMS": "0",
        "members-INITIAL_FORMS": "0",
        "tier_changes-TOTAL_FORMS": "0",
        "tier_changes-INITIAL_FORMS": "0",
    }
    data.update(changes)
    return data


def test_tier_change_in_admin_needs_a_reason_and_records_it(client, manager, partner_a):
    client.force_login(manager)
    url = reverse("admin:partners_partner_change", args=[partner_a.pk])
    gold = default_tier("gold")
    response = client.post(url, _form(partner_a, tier=gold.pk))
    assert response.status_code == 200
    assert "Say why the tier changes." in response.content.decode()
    partner_a.refresh_from_db()
    assert partner_a.tier.slug == "silver"

    response = client.post(url, _form(partner_a, tier=gold.pk, tier_reason="Exec sponsor asked"))
    assert response.status_code == 302
    partner_a.refresh_from_db()
    assert partner_a.tier.slug == "gold"
    change = TierChange.objects.get(partner=partner_a, cause="override")
    assert change.changed_by == manager
    assert change.reason == "Exec sponsor asked"


def test_manager_adds_a_partner_in_the_admin(client, manager):
    client.force_login(manager)
    data = {
        "name": "Foxtrot Ltd",
        "domain": "foxtrot.example",
        "program": Partner._meta.get_field("program").related_model.objects.get(is_default=True).pk,
        "tier": default_tier("silver").pk,
        "status": "onboarding",
        "annual_quota": "",
        "agreement_signed_on": "",
        "started_on": "2026-11-01",
        "channel_manager": manager.pk,
        "tier_reason": "",
        "members-TOTAL_FORMS": "0",
        "members-INITIAL_FORMS": "0",
        "tier_changes-TOTAL_FORMS": "0",
        "tier_changes-INITIAL_FORMS": "0",
    }
    response = client.post(reverse("admin:partners_partner_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    partner = Partner.objects.get(domain_key="foxtrot.example")
    assert partner.tier_changes.get().cause == "initial"


def test_manager_invites_a_user_from_the_admin(
    client, manager, partner_a, mailoutbox, queued_mail, django_capture_on_commit_callbacks
):
    client.force_login(manager)
    url = reverse("admin:partners_partner_invite", args=[partner_a.pk])
    assert client.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"email": "new@alpha.example", "role": "admin"})
    assert response.status_code == 302
    assert not mailoutbox  # queued for the worker, not sent in the request
    assert queued_mail() == 1
    assert mailoutbox[0].to == ["new@alpha.example"]


@pytest.mark.parametrize(
    "name",
    [
        "admin:partners_partner_changelist",
        "admin:partners_partneruser_changelist",
        "admin:partners_tierchange_changelist",
        "admin:enablement_certification_changelist",
        "admin:deals_deal_changelist",
    ],
)
def test_admin_lists_are_scoped_with_flat_query_counts(
    client, manager, name, django_assert_max_num_queries
):
    for _ in range(20):
        partner = PartnerFactory(channel_manager=manager)
        CertificationFactory(partner=partner)
    client.force_login(manager)
    with django_assert_max_num_queries(15):
        assert client.get(reverse(name)).status_code == 200


def test_duplicate_domain_in_the_admin_is_a_form_error(client, manager, partner_a, partner_b):
    client.force_login(manager)
    url = reverse("admin:partners_partner_change", args=[partner_a.pk])
    response = client.post(url, _form(partner_a, domain="www.bravo.example"))
    assert response.status_code == 200
    assert "already exists" in response.content.decode()


def test_partner_list_filters_by_tier(client, chief, partner_a, partner_b):
    client.force_login(chief)
    page = client.get(reverse("admin:partners_partner_changelist") + "?tier=gold")
    assert "Bravo Networks" in page.content.decode()
    assert "Alpha Systems" not in page.content.decode()


def test_manager_cannot_list_every_login(client, manager, chief, b_admin):
    client.force_login(manager)
    assert client.get(reverse("admin:partners_user_changelist")).status_code == 403
    assert client.get(reverse("admin:partners_user_change", args=[b_admin.pk])).status_code == 403
    client.force_login(chief)
    assert (
        b_admin.username in client.get(reverse("admin:partners_user_changelist")).content.decode()
    )


def test_manager_marks_outreach_tasks_done_and_is_recorded_as_who(
    client, manager, partner_a, partner_b
):
    from partners.models import OutreachTask

    mine, done_before, theirs = (
        OutreachTask.objects.create(partner=partner, assignee=manager, title=title, due_on=due)
        for partner, title, due in (
            (partner_a, "Call Alpha", "2026-12-01"),
            (partner_a, "Old one", "2026-11-01"),
            (partner_b, "Call Bravo", "2026-12-01"),
        )
    )
    OutreachTask.objects.filter(pk=done_before.pk).update(status="done")
    client.force_login(manager)
    response = client.post(
        reverse("admin:partners_outreachtask_changelist"),
        {"action": "mark_done", "_selected_action": [mine.pk, done_before.pk, theirs.pk]},
        follow=True,
    )
    assert "1 task(s) done." in response.content.decode()
    mine.refresh_from_db()
    assert (mine.status, mine.done_by) == ("done", manager) and mine.done_at is not None
    done_before.refresh_from_db()
    assert done_before.done_by is None  # already done: left as it was
    theirs.refresh_from_db()
    assert (theirs.status, theirs.done_by) == ("open", None)  # another manager's partner


# ---------------------------------------------------------------- accounts and leads
#
# Every manager reads every account and lead; one changes only those of their own
# partners, and those no partner touches (partners.queries.accounts_writable_by).


def _account_form(account, **changes):
    data = {
        "name": account.name,
        "domain": account.domain,
        "direct_rep": account.direct_rep,
        "owning_partner": account.owning_partner_id or "",
    }
    return {**data, **changes}


def test_manager_reads_another_managers_partners_account_but_cannot_change_it(
    client, manager, partner_b
):
    account = AccountFactory(owning_partner=partner_b)
    client.force_login(manager)
    url = reverse("admin:partners_account_change", args=[account.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.post(url, _account_form(account, name="Taken over")).status_code == 403
    account.refresh_from_db()
    assert account.name != "Taken over"


def test_manager_changes_their_partners_account_and_gives_it_only_to_their_partners(
    client, manager, partner_a, partner_b
):
    account = AccountFactory(owning_partner=partner_a)
    client.force_login(manager)
    url = reverse("admin:partners_account_change", args=[account.pk])
    choices = client.get(url).context["adminform"].form.fields["owning_partner"].queryset
    assert list(choices) == [partner_a]
    response = client.post(url, _account_form(account, owning_partner=partner_b.pk))
    assert response.status_code == 200
    assert "owning_partner" in response.context["adminform"].form.errors
    response = client.post(url, _account_form(account, direct_rep="ae@vendor.example"))
    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.owning_partner, account.direct_rep) == (partner_a, "ae@vendor.example")


def test_a_taken_account_domain_is_a_form_error(client, manager):
    AccountFactory(domain="taken.example")
    account = AccountFactory()
    client.force_login(manager)
    url = reverse("admin:partners_account_change", args=[account.pk])
    response = client.post(url, _account_form(account, domain="www.taken.example"))
    assert response.status_code == 200
    assert "already exists" in str(response.context["adminform"].form.errors["domain"])


def test_manager_cannot_delete_or_change_a_lead_passed_to_another_managers_partner(
    client, manager, partner_a, partner_b
):
    theirs, ours = LeadFactory(partner=partner_b), LeadFactory(partner=partner_a)
    client.force_login(manager)
    changelist = reverse("admin:partners_lead_changelist")
    response = client.post(
        changelist,
        {"action": "delete_selected", "_selected_action": [theirs.pk, ours.pk], "post": "yes"},
    )
    assert response.status_code == 403
    assert Lead.objects.count() == 2
    url = reverse("admin:partners_lead_change", args=[theirs.pk])
    assert client.post(url, {"company_name": "Taken over"}).status_code == 403
    assert client.post(reverse("admin:partners_lead_delete", args=[theirs.pk])).status_code == 403
    response = client.post(
        changelist, {"action": "delete_selected", "_selected_action": [ours.pk], "post": "yes"}
    )
    assert response.status_code == 302
    assert list(Lead.objects.all()) == [theirs]


def test_a_lead_changed_in_the_admin_finds_its_new_account(client, manager, partner_a):
    account = AccountFactory(domain="initech.example")
    lead = LeadFactory(partner=partner_a, domain="elsewhere.example")
    client.force_login(manager)
    url = reverse("admin:partners_lead_change", args=[lead.pk])
    data = change_form_data(client.get(url))
    response = client.post(url, {**data, "domain": "www.initech.example"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    lead.refresh_from_db()
    assert (lead.domain, lead.account) == ("www.initech.example", account)


def test_a_manager_adds_partners_only_for_themselves(client, manager, other_manager, chief):
    client.force_login(manager)
    field = (
        client.get(reverse("admin:partners_partner_add"))
        .context["adminform"]
        .form.fields["channel_manager"]
    )
    assert list(field.queryset) == [manager]
    assert field.required
    client.force_login(chief)
    field = (
        client.get(reverse("admin:partners_partner_add"))
        .context["adminform"]
        .form.fields["channel_manager"]
    )
    assert set(field.queryset) == {manager, other_manager}
    assert not field.required
