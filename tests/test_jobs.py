"""Jobs that cannot hang, and that beat may run twice: every task of the project has a
soft and a hard time limit under the broker's visibility timeout; the quarter close stopped
at its soft limit ends failed with the reason, never stuck running; and every periodic
task on the beat schedule, run twice in a row on the same book, adds nothing the second
time."""

import json
from datetime import timedelta

import pytest
import time_machine
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from prm.celery import app
from scoring import tasks
from scoring.models import QuarterClose
from scoring.services.close import quarter_close, quarter_close_request, quarter_close_stopped

pytestmark = pytest.mark.django_db


def project_tasks() -> dict:
    """The project's own tasks (Celery's built-in ones left out), every app's imported."""
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}


# ---------------------------------------------------------------- time limits


def test_every_task_has_a_soft_and_a_hard_time_limit_under_the_visibility_timeout():
    found = project_tasks()
    assert {"scoring.close_quarter", "deals.auto_approve", "prm.send_mail"} <= set(found)
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    hard_limits = {}
    for name, task in found.items():
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        hard = task.time_limit or app.conf.task_time_limit
        assert soft and hard, f"{name} has no time limit"
        assert soft < hard <= visibility, (name, soft, hard, visibility)
        hard_limits[name] = hard
    # A message taken while every child runs the longest task may wait that long, then run
    # up to its own limit: still under the visibility timeout, so never delivered twice.
    assert max(hard_limits.values()) + app.conf.task_time_limit < visibility


def test_the_close_has_its_own_larger_limits():
    for name in ("scoring.close_quarter", "scoring.close_previous_quarter"):
        task = project_tasks()[name]
        assert (task.soft_time_limit, task.time_limit) == (
            settings.QUARTER_CLOSE_SOFT_TIME_LIMIT,
            settings.QUARTER_CLOSE_TIME_LIMIT,
        )
        assert task.soft_time_limit > app.conf.task_time_limit


@pytest.mark.usefixtures("program_data")
def test_a_close_stopped_at_its_soft_time_limit_ends_failed_with_the_reason(monkeypatch):
    quarter_close_request(quarter="2026Q2", by=None)

    def stopped(quarter):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(
        "scoring.services.close._gather", stopped
    )  # the signal arrives while it gathers
    result = tasks.close_quarter("2026Q2")
    close = QuarterClose.objects.get(quarter="2026Q2")
    assert (result["state"], close.state) == ("failed", QuarterClose.State.FAILED)
    assert "time limit of 20 minutes" in close.error
    assert close.error == result["reason"]
    assert close.finished_at is not None
    # Nothing holds the quarter: the close runs again at once.
    monkeypatch.undo()
    assert quarter_close(quarter="2026Q2").state == QuarterClose.State.DONE


@pytest.mark.usefixtures("program_data")
def test_a_close_left_running_by_its_time_limit_is_failed_and_a_finished_one_is_kept():
    running = QuarterClose.objects.create(quarter="2026Q1", state=QuarterClose.State.RUNNING)
    done = QuarterClose.objects.create(quarter="2026Q2", state=QuarterClose.State.DONE)
    queued = QuarterClose.objects.create(quarter="2025Q4", state=QuarterClose.State.QUEUED)
    for close in (running, done, queued):
        quarter_close_stopped(close.quarter, limit_seconds=1200)
        close.refresh_from_db()
    assert running.state == QuarterClose.State.FAILED and "20 minutes" in running.error
    assert (done.state, done.error) == (QuarterClose.State.DONE, "")
    assert queued.state == QuarterClose.State.QUEUED  # the sweep sends it again


# ---------------------------------------------------------------- beat may run twice


def table_counts() -> dict[str, int]:
    """Rows in every table of the database, but the schedule's own."""
    tables = [
        t for t in connection.introspection.table_names() if not t.startswith("django_celery_beat")
    ]
    query = " UNION ALL ".join(
        f"SELECT %s, COUNT(*) FROM {connection.ops.quote_name(t)}" for t in tables
    )
    with connection.cursor() as cursor:
        cursor.execute(query, tables)
        return dict(cursor.fetchall())


def changed(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {t: (before[t], after[t]) for t in after if before.get(t) != after[t]}


def test_every_periodic_task_run_twice_in_a_row_adds_nothing_the_second_time(
    django_capture_on_commit_callbacks,
):
    """A sweep over the beat schedule (so a new periodic task is covered): on a demo book
    some weeks on, each task runs twice in a row; the second run adds no row to any table
    (no duplicate notice, history record, ledger entry, flag, task…) and queues no mail or
    job."""
    call_command("seed_demo", partners=20, seed=7)
    # Finance keeps entering the day's rates in the weeks that pass (the close converts
    # the rebates of partners paid in euros at the quarter end's rate).
    from partners.services.currencies import exchange_rate_set
    from scoring.management.commands.seed_demo import DEMO_RATES, demo_rate

    for n in range(1, 41):
        day = timezone.localdate() + timedelta(days=n)
        for currency in DEMO_RATES:
            exchange_rate_set(currency=currency, base="USD", day=day, rate=demo_rate(currency, day))
    found = project_tasks()
    schedule = list(PeriodicTask.objects.filter(enabled=True).order_by("name"))
    assert len(schedule) >= 10
    first_runs_changed = {}
    app.control.purge()
    later = timezone.now() + timedelta(days=40)  # into the next quarter: the close has work
    with time_machine.travel(later, tick=False):
        for entry in schedule:
            assert entry.task in found, f"{entry.name}: {entry.task} is not a task"
            task = found[entry.task]
            args, kwargs = json.loads(entry.args or "[]"), json.loads(entry.kwargs or "{}")
            before = table_counts()
            with django_capture_on_commit_callbacks(execute=False):
                task.apply(args=args, kwargs=kwargs, throw=True)
            after_first = table_counts()
            first_runs_changed[entry.task] = changed(before, after_first)
            with django_capture_on_commit_callbacks(execute=False) as callbacks:
                task.apply(args=args, kwargs=kwargs, throw=True)
            assert changed(after_first, table_counts()) == {}, entry.task
            assert callbacks == [], f"{entry.task} queued mail or a job again"
    app.control.purge()
    # The book gave the jobs work to do, so the second runs prove something.
    print({task: sorted(tables) for task, tables in first_runs_changed.items()})
    assert sum(bool(c) for c in first_runs_changed.values()) >= 5, first_runs_changed
