"""Scheduling the quarter's QBRs: silver and above, once per partner, on beat after the
close, safe to run twice (also at once)."""

import threading
from datetime import UTC, date, datetime

import pytest
import time_machine
from celery.exceptions import Retry
from django.db import connection
from django_celery_beat.models import PeriodicTask

from partners.models import Tier
from scoring import tasks
from scoring.models import Qbr, QuarterClose
from scoring.services.reviews import qbr_schedule_quarter
from tests.factories import PartnerFactory, StaffFactory, default_tier

pytestmark = pytest.mark.django_db

QUARTER_DAY = datetime(2026, 10, 1, 3, 0, tzinfo=UTC)  # a Thursday


@pytest.fixture
def partners(db):
    manager = StaffFactory(username="mia")
    made = {
        slug: PartnerFactory(
            name=f"{slug.title()} Co", tier=default_tier(slug), channel_manager=manager
        )
        for slug in ("registered", "silver", "gold", "platinum")
    }
    made["suspended"] = PartnerFactory(tier=default_tier("gold"), status="suspended")
    return made


def test_the_job_is_on_beat_after_the_close():
    job = PeriodicTask.objects.get(task="scoring.schedule_qbrs")
    close = PeriodicTask.objects.get(task="scoring.close_previous_quarter")
    assert job.enabled
    assert (job.crontab.day_of_month, job.crontab.month_of_year) == ("1", "1,4,7,10")
    assert int(job.crontab.hour) > int(close.crontab.hour)


def test_active_silver_and_above_get_one_qbr_each(partners):
    with time_machine.travel(QUARTER_DAY, tick=False):
        result = qbr_schedule_quarter()
    assert result == {"quarter": "2026Q4", "scheduled": 3, "prepared": 3}
    qbrs = {q.partner.name: q for q in Qbr.objects.select_related("partner")}
    assert set(qbrs) == {"Silver Co", "Gold Co", "Platinum Co"}
    assert {name: q.cadence for name, q in qbrs.items()} == {
        "Silver Co": "quarterly",
        "Gold Co": "quarterly",
        "Platinum Co": "quarterly",
    }
    assert all(q.status == "scheduled" and q.prepared_at for q in qbrs.values())
    assert all(q.sections["reviewed_quarter"] == "2026Q3" for q in qbrs.values())
    # One meeting a business day per manager, from a week after the quarter starts.
    days = sorted(q.scheduled_for for q in qbrs.values())
    assert days == [date(2026, 10, 8), date(2026, 10, 9), date(2026, 10, 13)]  # 12 Oct: holiday
    assert all(q.history.count() == 1 for q in qbrs.values())


def test_the_task_twice_schedules_nothing_more(partners):
    with time_machine.travel(QUARTER_DAY, tick=False):
        first = tasks.schedule_qbrs()
        before = {q.pk: (q.scheduled_for, q.prepared_at) for q in Qbr.objects.all()}
        second = tasks.schedule_qbrs()
    assert (first["scheduled"], second["scheduled"], second["prepared"]) == (3, 0, 0)
    assert {q.pk: (q.scheduled_for, q.prepared_at) for q in Qbr.objects.all()} == before


def test_a_partner_reaching_silver_is_scheduled_by_the_next_run(partners):
    with time_machine.travel(QUARTER_DAY, tick=False):
        qbr_schedule_quarter()
        registered = partners["registered"]
        registered.tier = default_tier("silver")
        registered.save()
        assert qbr_schedule_quarter()["scheduled"] == 1
    assert Qbr.objects.filter(partner=registered, quarter="2026Q4").exists()


def test_cadences_decide_the_check_ins_and_annual_reviews_come_once_a_year(partners):
    Tier.objects.filter(pk=partners["gold"].tier_id).update(review_cadence="monthly")
    Tier.objects.filter(pk=partners["platinum"].tier_id).update(review_cadence="weekly")
    Tier.objects.filter(pk=partners["silver"].tier_id).update(review_cadence="annual")
    with time_machine.travel(QUARTER_DAY, tick=False):
        qbr_schedule_quarter()
    by_name = {q.partner.name: q for q in Qbr.objects.select_related("partner")}
    assert "Silver Co" not in by_name  # annual: in the first quarter only
    gold, platinum = by_name["Gold Co"], by_name["Platinum Co"]
    assert gold.cadence == "monthly"
    assert [day for day, _ in gold.check_ins()] == [date(2026, 11, 8), date(2026, 12, 8)]
    kinds = [kind for _, kind in platinum.check_ins()]
    assert kinds.count("Monthly executive review") == 2
    assert kinds.count("Weekly check-in") >= 9
    with time_machine.travel(datetime(2027, 1, 1, 3, tzinfo=UTC), tick=False):
        qbr_schedule_quarter()
    assert Qbr.objects.filter(partner=partners["silver"], quarter="2027Q1").exists()


def test_scheduling_late_in_a_quarter_keeps_meetings_inside_it(partners):
    with time_machine.travel(datetime(2026, 12, 28, 9, tzinfo=UTC), tick=False):
        qbr_schedule_quarter()
    assert {q.scheduled_for for q in Qbr.objects.all()} <= {
        date(2026, 12, 28),
        date(2026, 12, 29),
        date(2026, 12, 30),
        date(2026, 12, 31),
    }


def test_while_the_close_runs_the_job_retries_later(partners):
    QuarterClose.objects.create(quarter="2026Q3", state=QuarterClose.State.RUNNING)
    with time_machine.travel(QUARTER_DAY, tick=False), pytest.raises(Retry):
        tasks.schedule_qbrs()
    assert not Qbr.objects.exists()
    QuarterClose.objects.filter(quarter="2026Q3").update(state=QuarterClose.State.DONE)
    with time_machine.travel(QUARTER_DAY, tick=False):
        assert tasks.schedule_qbrs()["scheduled"] == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("program_data")
def test_two_runs_at_once_schedule_each_partner_once():
    manager = StaffFactory(username="max")
    for _ in range(12):
        PartnerFactory(tier=default_tier("silver"), channel_manager=manager)
    results, errors = [], []
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            with time_machine.travel(QUARTER_DAY, tick=False):
                results.append(qbr_schedule_quarter())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(r["scheduled"] for r in results) == [0, 12]
    assert sum(r["prepared"] for r in results) == 12
    assert Qbr.objects.count() == 12
    assert Qbr.objects.filter(prepared_at__isnull=True).count() == 0
