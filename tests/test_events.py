"""Events: what the apps publish for webhooks and the CRM sync, exactly once per change,
delivered only after the change commits."""

from datetime import date, timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from integrations import services
from integrations.models import Event, EventKind
from partners.models import RedFlag, TierChangeCause
from partners.services import (
    CloseOutcome,
    lead_update,
    partner_set_tier,
    partners_close_apply,
    red_flags_apply,
)
from tests.factories import LeadFactory, PartnerFactory, default_tier


@pytest.fixture
def delivered():
    """A deliverer that keeps what it is handed."""
    got: list[Event] = []
    services.deliverer_register("test", got.extend)
    yield got
    services._deliverers.pop("test")


def test_a_tier_override_is_an_event_with_both_tiers(partner_a, manager):
    partner_set_tier(
        partner=partner_a,
        tier=default_tier("gold"),
        cause=TierChangeCause.OVERRIDE,
        reason="Strategic account",
        changed_by=manager,
    )
    event = Event.objects.get()
    assert event.kind == EventKind.TIER_CHANGED and event.partner_id == partner_a.pk
    assert event.data["from_tier"] == "silver" and event.data["to_tier"] == "gold"
    assert event.data["reason"] == "Strategic account" and event.handed_at is None


def test_a_close_announces_its_tier_moves_once_however_often_it_runs(
    partner_a, django_assert_max_num_queries
):
    others = PartnerFactory.create_batch(5, tier=default_tier("silver"))
    outcomes = [
        CloseOutcome(
            partner_id=p.pk,
            tier_before_id=p.tier_id,
            tier_after_id=default_tier("registered").pk,
            exits=False,
            score=20,
            cause=TierChangeCause.DEMOTE,
            reason="Below the floor",
        )
        for p in [partner_a, *others]
    ]
    now = timezone.now()
    with django_assert_max_num_queries(12):  # a few statements for the batch, not a row each
        partners_close_apply(quarter="2026Q3", outcomes=outcomes, by=None, at=now)
    partners_close_apply(quarter="2026Q3", outcomes=outcomes, by=None, at=now)
    events = Event.objects.filter(kind=EventKind.TIER_CHANGED)
    assert events.count() == 6
    assert {e.data["to_tier"] for e in events} == {"registered"}


def test_red_flags_and_leads_passed_to_a_partner_are_events(partner_a, partner_b):
    red_flags_apply(
        as_of=date(2026, 10, 1), partner_ids=[partner_a.pk], wanted={(partner_a.pk, "low_csat")}
    )
    red_flags_apply(
        as_of=date(2026, 10, 2), partner_ids=[partner_a.pk], wanted={(partner_a.pk, "low_csat")}
    )
    flag = RedFlag.objects.get()
    opened = Event.objects.get(kind=EventKind.RED_FLAG_OPENED)
    assert opened.data["red_flag_id"] == flag.pk and opened.partner_id == partner_a.pk
    lead = LeadFactory()
    lead_update(lead=lead, partner=partner_a)
    lead_update(lead=lead, partner=partner_a)  # no change of hands
    lead_update(lead=lead, partner=partner_b)
    assigned = Event.objects.filter(kind=EventKind.LEAD_ASSIGNED).order_by("pk")
    assert [e.partner_id for e in assigned] == [partner_a.pk, partner_b.pk]


def test_events_are_handed_over_once_and_never_for_a_change_rolled_back(
    partner_a, delivered, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as sent:
        event = services.event_publish(
            partner_id=partner_a.pk, kind=EventKind.DEAL_WON, data={"deal_id": 1}
        )
    assert len(sent) == 1  # the delivery task is sent after the commit
    assert services.events_deliver(event_ids=[event.pk]) == 1
    assert services.events_deliver(event_ids=[event.pk]) == 0  # a redelivered task
    assert [e.pk for e in delivered] == [event.pk]
    with pytest.raises(RuntimeError), transaction.atomic():
        services.event_publish(partner_id=partner_a.pk, kind=EventKind.DEAL_WON, data={})
        raise RuntimeError("the change fails")
    assert Event.objects.count() == 1
    with pytest.raises(ValueError):
        services.event_publish(partner_id=partner_a.pk, kind="deal.invented", data={})


def test_events_the_broker_lost_are_sent_again_and_old_ones_pruned(partner_a):
    lost = services.event_publish(partner_id=partner_a.pk, kind=EventKind.DEAL_WON, data={})
    assert services.events_resend_stale() == 0  # too young: its task may still come
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        assert services.events_resend_stale() == 1
    services.events_deliver(event_ids=[lost.pk])
    with time_machine.travel(timezone.now() + timedelta(minutes=12)):
        assert services.events_resend_stale() == 0
    kept = services.event_publish(partner_id=partner_a.pk, kind=EventKind.DEAL_WON, data={})
    later = timezone.now() + timedelta(days=91)
    assert services.events_prune(now=later, dry_run=True) == 1
    assert services.events_prune(now=later) == 1
    assert list(Event.objects.all()) == [kept]  # never handed over: kept
