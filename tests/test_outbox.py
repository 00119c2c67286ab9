"""prm.outbox: a task asked for in a transaction reaches the broker once it commits, never
if it rolls back, and waits in the database while the broker is down."""

import json
import time

import pytest
from django.db import transaction

from prm import outbox
from prm.celery import app
from prm.models import PendingTask
from prm.tasks import send_pending_tasks
from tests.throwaway import free_port

pytestmark = pytest.mark.django_db(transaction=True)


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


def test_a_task_goes_to_the_broker_when_its_transaction_commits(broker):
    with transaction.atomic():
        outbox.enqueue("scoring.close_quarter", "2026Q2", None)
        assert PendingTask.objects.count() == 1
        assert broker() == []  # not before the commit
    assert broker() == [("scoring.close_quarter", "['2026Q2', None]")]
    assert not PendingTask.objects.exists()


def test_a_rolled_back_transaction_sends_nothing(broker):
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.enqueue("scoring.close_quarter", "2026Q2", None)
        raise RuntimeError("the change failed")
    assert broker() == [] and not PendingTask.objects.exists()


def test_while_the_broker_is_down_the_task_waits_and_the_drain_sends_it(broker, broker_down):
    started = time.monotonic()
    outbox.enqueue("scoring.close_quarter", "2026Q2", 7)
    took = time.monotonic() - started
    row = PendingTask.objects.get()
    assert (row.attempts, row.last_error.startswith("OperationalError")) == (1, True)
    assert took < 3, f"enqueue waited {took:.1f} s on a dead broker"
    assert send_pending_tasks() == 0  # still down: nothing lost, nothing sent

    app.conf.broker_write_url = None  # the broker is back
    assert send_pending_tasks() == 1
    assert broker() == [("scoring.close_quarter", "['2026Q2', 7]")]
    assert not PendingTask.objects.exists()
    assert send_pending_tasks() == 0  # sent once
