"""Why a tier changed, in the reader's language: the close's and the services' reasons are
kept as a source and its values and shown translated on the portal's scorecards page, the
partner 360 page and the admin; a manager's override reason stays as typed, and the rows
from before keep their text."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.utils import translation

from deals.models import EscalationStep
from deals.services import conflict_case_escalate
from partners.models import PartnerRole, TierChange
from partners.services import partner_set_tier, partner_update
from scoring.services.close import quarter_close
from tests.factories import ConflictCaseFactory, PartnerUserFactory, default_tier
from tests.test_close_outcome import QUARTER, book

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("program_data")
def test_the_closes_reasons_are_shown_in_the_readers_language(client, manager):
    with time_machine.travel(datetime(2026, 7, 15, 9, 0, tzinfo=UTC), tick=False):
        book(manager)
        quarter_close(quarter=QUARTER, batch_size=3)
    leaving = TierChange.objects.get(quarter=QUARTER, cause="exit")
    assert leaving.reason == "Below the entry tier's requirements at four consecutive closes."
    assert leaving.reason_message == leaving.reason
    fast = TierChange.objects.get(quarter=QUARTER, partner__name="Rocket Ltd")
    assert fast.reason_params == {"score": str(fast.partner.scorecards.get().total)}
    assert fast.shown_reason == fast.reason  # English, as stored
    with translation.override("zh-hans"):
        assert leaving.shown_reason == "连续四次结算低于入门等级的要求。"
        assert fast.shown_reason.startswith("快速晋级：得分 ")

    member = PartnerUserFactory(partner=leaving.partner, role=PartnerRole.ADMIN).user
    client.force_login(member)
    page = client.get("/portal/scorecards/", **ZH).content.decode()
    assert "连续四次结算低于入门等级的要求。" in page
    assert "four consecutive closes" not in page
    page = client.get("/portal/scorecards/").content.decode()
    assert "Below the entry tier&#x27;s requirements at four consecutive closes." in page

    client.force_login(manager)
    leaving.partner.channel_manager = manager
    leaving.partner.save()
    page = client.get(f"/manager/partners/{leaving.partner_id}/", **ZH).content.decode()
    assert "连续四次结算低于入门等级的要求。" in page


@pytest.mark.django_db
def test_an_override_reason_stays_as_typed_and_old_rows_keep_their_text(
    client, chief, partner_a, a_admin
):
    partner_update(
        partner=partner_a,
        changed_by=chief,
        tier="gold",
        tier_reason="Strategic account: agreed with the VP.",
    )
    override = TierChange.objects.get(partner=partner_a, cause="override")
    assert (override.reason, override.reason_message) == (
        "Strategic account: agreed with the VP.",
        "",
    )
    before = TierChange.objects.create(
        partner=partner_a,
        from_tier=default_tier("gold"),
        to_tier=default_tier("silver"),
        cause="demote",
        quarter="2025Q4",
        reason="Below the tier's requirements at two consecutive closes (qualifies for Silver).",
    )
    with translation.override("zh-hans"):
        assert override.shown_reason == "Strategic account: agreed with the VP."
        assert before.shown_reason == before.reason
    client.force_login(a_admin)
    page = client.get("/portal/scorecards/", **ZH).content.decode()
    assert "Strategic account: agreed with the VP." in page
    client.force_login(chief)
    page = client.get(f"/admin/partners/tierchange/{override.pk}/change/").content.decode()
    assert "Strategic account: agreed with the VP." in page


@pytest.mark.django_db
def test_a_termination_for_a_conflict_keeps_the_typed_reason_inside_a_translated_one(
    chief, partner_a
):
    case = ConflictCaseFactory(partner=partner_a, escalation_step=EscalationStep.PROBATION)
    conflict_case_escalate(case=case, by=chief, reason="Sold below the floor price again.")
    change = TierChange.objects.get(partner=partner_a, cause="exit")
    scenario = case.get_scenario_display()
    assert change.reason == f"Agreement violation ({scenario}): Sold below the floor price again."
    with translation.override("zh-hans"):
        shown = change.shown_reason
    assert shown.startswith("违反协议（") and shown.endswith("Sold below the floor price again.")
    assert scenario not in shown


@pytest.mark.django_db
def test_a_service_reason_with_values_is_stored_in_english_too(partner_a):
    change = partner_set_tier(
        partner=partner_a,
        tier=default_tier("gold"),
        cause="advance",
        quarter="2026Q1",
        reason_message="Qualified for %(tier)s at two consecutive closes.",
        reason_params={"tier": "Gold"},
    )
    change.refresh_from_db()
    assert change.reason == "Qualified for Gold at two consecutive closes."
    with translation.override("zh-hans"):
        assert change.shown_reason == "连续两次结算达到 Gold 的要求。"
