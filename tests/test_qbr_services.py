"""The QBR and business-plan services: what they refuse, in words, and what they keep."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from scoring.models import JointBusinessPlan, Qbr
from scoring.services.reviews import (
    QbrError,
    jbp_save,
    qbr_action_item_add,
    qbr_action_item_complete,
    qbr_action_item_update,
    qbr_cancel,
    qbr_hold,
    qbr_prepare,
    qbr_schedule,
    qbr_schedule_quarter,
    qbr_share,
    qbr_update,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def qbr(partner_a, qbr_clock):
    return Qbr.objects.create(
        partner=partner_a, quarter="2026Q4", cadence="quarterly", scheduled_for=date(2026, 10, 20)
    )


def test_moving_a_meeting_stays_inside_its_quarter(qbr, manager):
    qbr_update(qbr=qbr, by=manager, scheduled_for=date(2026, 12, 1))
    with pytest.raises(ValidationError, match="held in that quarter"):
        qbr_update(qbr=qbr, by=manager, scheduled_for=date(2027, 1, 5))
    qbr.refresh_from_db()
    assert qbr.scheduled_for == date(2026, 12, 1)


def test_a_held_qbr_is_neither_moved_refreshed_held_nor_cancelled_again(qbr, manager):
    qbr_hold(qbr=qbr, by=manager, held_on=date(2026, 10, 7))
    for run in (
        lambda: qbr_update(qbr=qbr, by=manager, scheduled_for=date(2026, 11, 1)),
        lambda: qbr_prepare(qbr=qbr, by=manager),
        lambda: qbr_hold(qbr=qbr, by=manager),
        lambda: qbr_cancel(qbr=qbr, by=manager, reason="x"),
    ):
        with pytest.raises(QbrError, match="held on 07 Oct 2026"):
            run()
    # Notes and action items are still welcome after the meeting.
    qbr_update(qbr=qbr, by=manager, notes="  Went well.  ")
    item = qbr_action_item_add(qbr=qbr, by=manager, text="Follow up")
    qbr.refresh_from_db()
    assert (qbr.notes, item.text) == ("Went well.", "Follow up")


def test_a_qbr_is_held_in_its_quarter_and_not_in_the_future(qbr, manager):
    with pytest.raises(ValidationError, match="held from 01 Oct 2026"):
        qbr_hold(qbr=qbr, by=manager, held_on=date(2026, 9, 30))
    with pytest.raises(ValidationError, match="on the day it took place"):
        qbr_hold(qbr=qbr, by=manager, held_on=date(2026, 10, 9))


def test_a_cancelled_qbr_is_not_shared_and_takes_no_action_items(qbr, manager):
    qbr_cancel(qbr=qbr, by=manager, reason="The partner asked to skip it.")
    with pytest.raises(QbrError, match="not shared"):
        qbr_share(qbr=qbr, by=manager)
    with pytest.raises(QbrError, match="no action items"):
        qbr_action_item_add(qbr=qbr, by=manager, text="x")


def test_action_items_tick_and_reopen(qbr, manager, a_rep):
    item = qbr_action_item_add(
        qbr=qbr, by=manager, text="Register Initech", owner=a_rep, due_on=date(2026, 10, 31)
    )
    qbr_action_item_complete(item=item, by=a_rep)
    item.refresh_from_db()
    assert item.done_at is not None
    qbr_action_item_complete(item=item, by=manager, done=False)
    item.refresh_from_db()
    assert item.done_at is None
    assert [h.history_change_reason for h in item.history.order_by("history_id")] == [
        None,
        "Done",
        "Reopened",
    ]
    with pytest.raises(ValidationError) as refused:
        qbr_action_item_update(item=item, by=manager, text=" ", due_on=None)
    assert refused.value.message_dict == {"text": ["Say what is to be done."]}


def test_scheduling_one_qbr_twice_is_refused(partner_a, manager, qbr_clock):
    qbr_schedule(partner=partner_a, quarter="2026Q4", scheduled_for=date(2026, 10, 20), by=manager)
    with pytest.raises(QbrError, match="already has a QBR for 2026Q4"):
        qbr_schedule(
            partner=partner_a, quarter="2026Q4", scheduled_for=date(2026, 10, 21), by=manager
        )
    with pytest.raises(ValidationError, match="write it like 2026Q3"):
        qbr_schedule_quarter(quarter="Q4-2026")


@pytest.mark.parametrize(
    ("goal", "year", "field"),
    [
        ("abc", 2026, "revenue_goal"),
        ("-1", 2026, "revenue_goal"),
        ("NaN", 2026, "revenue_goal"),
        ("1000", 26, "fiscal_year"),
    ],
)
def test_a_plan_needs_an_amount_and_a_year(partner_a, manager, goal, year, field):
    with pytest.raises(ValidationError) as refused:
        jbp_save(partner=partner_a, fiscal_year=year, revenue_goal=goal, by=manager)
    assert list(refused.value.message_dict) == [field]
    assert not JointBusinessPlan.objects.exists()


def test_saving_a_plan_again_updates_the_years_plan(partner_a, manager, chief):
    first = jbp_save(
        partner=partner_a,
        fiscal_year=2027,
        revenue_goal="200000",
        by=manager,
        target_accounts="Initech\n\n",
    )
    second = jbp_save(
        partner=partner_a, fiscal_year=2027, revenue_goal=Decimal("250000.499"), by=chief
    )
    assert first.pk == second.pk
    second.refresh_from_db()
    assert (second.revenue_goal, second.target_accounts, second.updated_by) == (
        Decimal("250000.50"),
        "",
        chief,
    )
    assert second.history.count() == 2


def test_the_first_qbr_held_completes_its_onboarding_step(qbr, manager):
    from enablement.models import OnboardingTask
    from enablement.services import onboarding_plan_create

    onboarding_plan_create(partner=qbr.partner)
    step = OnboardingTask.objects.get(partner=qbr.partner, milestone__auto_event="first_qbr")
    assert step.completed_on is None
    qbr_hold(qbr=qbr, by=manager, held_on=date(2026, 10, 6))
    step.refresh_from_db()
    assert (step.completed_on, step.completed_automatically) == (date(2026, 10, 6), True)
    assert "2026Q4" in step.note
