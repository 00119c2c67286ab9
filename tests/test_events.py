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


def _kinds(partner) -> list[str]:
    return list(Event.objects.filter(partner=partner).order_by("pk").values_list("kind", flat=True))


def test_a_registration_s_life_is_told_in_events_but_imported_history_is_not(
    partner_a, partner_b, a_rep, b_admin, manager
):
    from deals import services as deals

    register = {
        "customer_domain": "acme.example",
        "amount": "50000",
        "expected_close": timezone.localdate() + timedelta(days=30),
        "deal_type": "new_logo",
        "compensation_model": "reseller",
    }
    deal = deals.deal_register(
        partner=partner_a, submitted_by=a_rep, customer_name="Acme", **register
    )
    refused = deals.deal_register(
        partner=partner_b, submitted_by=b_admin, customer_name="Acme Inc", **register
    )
    assert refused.status == "rejected"
    deals.deal_approve(deal=deal, by=manager)
    deals.deal_win(deal=deal, by=manager, amount="52000", closed_on=timezone.localdate())
    assert _kinds(partner_a) == ["deal.registered", "deal.approved", "deal.won"]
    assert _kinds(partner_b) == ["deal.registered", "deal.rejected"]
    won = Event.objects.get(kind=EventKind.DEAL_WON)
    assert won.data["deal_id"] == deal.pk and won.data["closed_amount"] == "52000.00"
    assert won.data["partner_credit"] is not None and won.data["status"] == "won"
    assert (won.data["closed_amount_reporting"], won.data["reporting_currency"]) == (
        "52000.00",
        "USD",
    )
    assert won.data["amount_reporting"] == f"{deal.amount_reporting:.2f}"
    before = Event.objects.count()
    deals.deal_register(
        partner=partner_a,
        submitted_by=manager,
        customer_name="Old Customer",
        customer_domain="old.example",
        amount="1000",
        expected_close=date(2025, 3, 1),
        deal_type="new_logo",
        compensation_model="reseller",
        submitted_at=timezone.now() - timedelta(days=200),
    )
    assert Event.objects.count() == before  # imported: approved and expired long ago
    assert deals.deals_expire_lapsed() == 1
    assert _kinds(partner_a)[-1] == "deal.expired"
    _assert_documented(Event.objects.all())


def test_approved_claims_and_paid_entries_are_events_once(partner_a, a_admin, manager):
    from incentives.services.claims import claim_approve, claim_submit
    from incentives.services.ledger import ledger_mark_paid
    from tests.factories import LedgerEntryFactory

    entries = [LedgerEntryFactory(partner=partner_a) for _ in range(2)]
    ids = [e.pk for e in entries]
    claim = claim_submit(partner=partner_a, entry_ids=ids, by=a_admin)
    claim_approve(claim=claim, by=manager)
    approved = Event.objects.get(kind=EventKind.CLAIM_APPROVED)
    assert approved.data["claim_id"] == claim.pk and approved.data["entry_ids"] == ids
    ledger_mark_paid(entry_ids=ids, by=manager, reference="RUN-1")
    ledger_mark_paid(entry_ids=ids, by=manager, reference="RUN-1")
    paid = Event.objects.filter(kind=EventKind.LEDGER_PAID).order_by("pk")
    assert [e.data["entry_id"] for e in paid] == ids
    assert {e.data["reference"] for e in paid} == {"RUN-1"}
    _assert_documented(Event.objects.all())


def _assert_documented(events) -> None:
    """Each event's data has exactly the fields the API schema documents for its kind."""
    from integrations.api import WEBHOOK_DATA

    for event in events:
        assert set(event.data) == set(WEBHOOK_DATA[event.kind]().fields), event.kind


def test_a_transaction_that_publishes_many_events_sends_one_task(
    partner_a, django_capture_on_commit_callbacks
):
    from unittest import mock

    from integrations import tasks

    with (
        mock.patch.object(tasks.events_deliver, "apply_async") as send,
        django_capture_on_commit_callbacks(execute=True),
    ):
        for n in range(3):
            services.event_publish(
                partner_id=partner_a.pk, kind=EventKind.DEAL_WON, data={"deal_id": n}
            )
    ids = list(Event.objects.order_by("pk").values_list("pk", flat=True))
    assert send.call_count == 1  # (a rolled-back test's ids may ride along: skipped)
    assert set(ids) <= set(send.call_args.args[0][0])
