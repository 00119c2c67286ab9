"""The scheduled jobs of deal registration: on beat, idempotent, safe twice at once."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from deals import tasks
from deals.models import Deal
from tests.factories import DealFactory, PartnerFactory

pytestmark = pytest.mark.django_db


def test_the_jobs_are_on_the_beat_schedule():
    scheduled = dict(PeriodicTask.objects.values_list("task", "enabled"))
    assert {
        "deals.auto_approve": True,
        "deals.expire_lapsed": True,
        "deals.escalate_conflicts": True,
    }.items() <= scheduled.items()
    auto = PeriodicTask.objects.get(task="deals.auto_approve")
    assert (auto.interval.every, auto.interval.period) == (15, "minutes")
    assert PeriodicTask.objects.get(task="deals.expire_lapsed").crontab.hour == "0"


def test_tasks_run_the_services_and_a_rerun_changes_nothing():
    partner = PartnerFactory()
    old = DealFactory(partner=partner, submitted_at=timezone.now() - timedelta(hours=49))
    lapsed = DealFactory(
        partner=partner,
        status="approved",
        approved_at=timezone.now() - timedelta(days=100),
        expires_on=timezone.localdate() - timedelta(days=1),
    )
    assert tasks.auto_approve() == 1
    assert tasks.expire_lapsed() == 1
    assert (tasks.auto_approve(), tasks.expire_lapsed(), tasks.escalate_conflicts()) == (0, 0, 0)
    old.refresh_from_db()
    lapsed.refresh_from_db()
    assert (old.status, lapsed.status) == ("approved", "expired")
    assert old.history.filter(status="approved").count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("program_data")
def test_two_auto_approvals_at_once_approve_each_deal_once():
    partner = PartnerFactory()
    DealFactory.create_batch(30, partner=partner, submitted_at=timezone.now() - timedelta(hours=60))
    counts = []
    barrier = threading.Barrier(2)

    def run():
        barrier.wait()
        counts.append(tasks.auto_approve())
        connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(counts) == 30
    assert Deal.objects.filter(status="approved").count() == 30
    history = Deal.history.model.objects.filter(status="approved", history_type="~")
    assert history.count() == 30
