"""A requested quarter close is its ``QuarterClose`` row, queued: it reaches the broker
once the request's transaction commits, never if it rolls back, and while the broker is
down it stays queued until the sweep sends it again (claimed, so never twice at once)."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from prm.celery import app
from scoring import tasks
from scoring.models import QuarterClose
from scoring.services.close import REQUEUE_AFTER, quarter_close_request, quarter_closes_claim_stale
from tests.throwaway import free_port
from tests.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("program_data")]


@pytest.fixture
def broker():
    """The test broker, emptied; ``broker()`` lists the queued (task, args)."""
    app.control.purge()

    def queued():
        with app.connection_for_write() as connection:
            raw = connection.default_channel.client.lrange("celery", 0, -1)
        return sorted(
            (m["headers"]["task"], m["headers"]["argsrepr"]) for m in map(json.loads, raw)
        )

    yield queued
    app.control.purge()


@pytest.fixture
def broker_down():
    """The broker's address points at a port nobody listens on, for this test."""
    saved = app.conf.broker_write_url
    app.conf.broker_write_url = f"redis://127.0.0.1:{free_port()}/0"
    yield
    app.conf.broker_write_url = saved


def request_close(label: str, by=None) -> QuarterClose:
    close = quarter_close_request(quarter=label, by=by)
    tasks.close_enqueue(close)
    return close


def test_a_close_goes_to_the_broker_when_its_request_commits(broker, chief):
    with transaction.atomic():
        request_close("2026Q2", chief)
        assert broker() == []  # not before the commit
    assert broker() == [("scoring.close_quarter", f"('2026Q2', {chief.pk})")]
    close = QuarterClose.objects.get()
    assert (close.state, close.sent_at is not None) == ("queued", True)


def test_a_rolled_back_request_sends_nothing(broker):
    with pytest.raises(RuntimeError), transaction.atomic():
        request_close("2026Q2")
        raise RuntimeError("the change failed")
    assert broker() == [] and not QuarterClose.objects.exists()


def test_while_the_broker_is_down_the_close_stays_queued_and_the_sweep_sends_it(
    broker, broker_down
):
    request_close("2026Q2")  # the request carries on: one quick attempt, then nothing
    close = QuarterClose.objects.get()
    assert (close.state, close.sent_at) == ("queued", None)
    later = timezone.now() + REQUEUE_AFTER + timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        assert tasks.requeue_closes() == 0  # still down: claimed, not sent, not lost
    app.conf.broker_write_url = None  # the broker is back
    assert tasks.requeue_closes() == 0  # claimed a moment ago: not yet again
    with time_machine.travel(later + REQUEUE_AFTER + timedelta(minutes=1), tick=False):
        assert tasks.requeue_closes() == 1
        assert tasks.requeue_closes() == 0  # sent once
    assert broker() == [("scoring.close_quarter", "('2026Q2', None)")]


def test_a_fresh_or_finished_close_is_not_sent_again(broker):
    request_close("2026Q2")
    QuarterClose.objects.create(quarter="2026Q1", state="done")
    assert tasks.requeue_closes() == 0  # sent a moment ago; the other is done
    with time_machine.travel(timezone.now() + timedelta(minutes=30), tick=False):
        assert [c.quarter for c in quarter_closes_claim_stale()] == ["2026Q2"]
        assert quarter_closes_claim_stale() == []  # claimed: a second sweep gets none


def test_the_sweep_and_the_close_it_sends_run_through_a_real_worker(
    broker, celery_worker_process, partner_a
):
    """A close requested an hour ago that never reached the broker: the sweep (on beat,
    here sent to the worker) sends it, and the worker closes the quarter."""
    QuarterClose.objects.create(
        quarter="2026Q2", state="queued", requested_at=timezone.now() - timedelta(hours=1)
    )
    tasks.requeue_closes.delay()
    assert wait_for(
        lambda: QuarterClose.objects.filter(quarter="2026Q2", state="done").exists(), timeout=90
    ), QuarterClose.objects.values("state", "error").get()


def test_a_close_sent_twice_runs_once(partner_a):
    request_close("2026Q2")
    first = tasks.close_quarter("2026Q2")
    assert first["state"] == "done"
    runs = QuarterClose.objects.get(quarter="2026Q2").runs
    assert tasks.close_quarter("2026Q2") == {"quarter": "2026Q2", "state": "finished already"}
    assert QuarterClose.objects.get(quarter="2026Q2").runs == runs
    request_close("2026Q2")  # asked for again: it runs again
    assert tasks.close_quarter("2026Q2")["state"] == "done"
