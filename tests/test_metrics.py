"""/metrics for Prometheus (prm.metrics, scoring.metrics): behind a bearer token, else
a 404; requests, queries, Celery tasks and the business figures; one count over several
processes."""

import json
import os
import socket
import subprocess
import sys
import textwrap
import urllib.request
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from incentives.models import IncentiveClaim
from prm.celery import app
from prm.metrics import TASK_FAILED, TASK_RETRIED, TASK_RUNTIME, TASK_SUCCEEDED
from scoring.models import QuarterClose
from tests.factories import DealFactory, PartnerFactory
from tests.workers import stop_worker, wait_for

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "scrape-0123456789abcdef0123456789abcdef"
HANG = 300  # a guard against a hang only


@app.task(name="tests.metrics.fine")
def fine():
    return 1


@app.task(name="tests.metrics.broken")
def broken():
    raise ValueError("broken on purpose")


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client, token=TOKEN) -> dict[str, dict]:
    """{metric family: {sample name and labels: value}} of one authorised scrape."""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "no-cache" in response["Cache-Control"]
    families = {}
    for family in text_string_to_metric_families(response.content.decode()):
        families[family.name] = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for sample in family.samples
        }
    return families


def value(families, family: str, **labels) -> float:
    samples = families[family]
    key = tuple(sorted(labels.items()))
    matches = [v for (name, sample_labels), v in samples.items() if sample_labels == key]
    assert len(matches) == 1, (family, labels, samples)
    return matches[0]


# ---------------------------------------------------------------- who may scrape


def test_metrics_is_a_404_while_no_token_is_set(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Token {TOKEN}", TOKEN, "Bearer"],
)
def test_metrics_is_a_404_without_the_right_bearer_token(client, token, authorization):
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
    response = client.get("/metrics", **extra)
    assert response.status_code == 404
    # What an address that does not exist answers (but for the page's style nonce).
    unknown = client.get("/metrics-nowhere", **extra)
    assert response["Content-Type"] == unknown["Content-Type"]
    assert len(response.content) == len(unknown.content)
    assert b"prm_" not in response.content


def test_the_token_opens_it(client, token):
    families = scrape(client)
    assert value(families, "prm_business_metrics_up") == 1


# ---------------------------------------------------------------- what it exports


def test_requests_and_database_queries_are_counted(client, token):
    client.get("/healthz/")
    client.get("/readyz/")
    families = scrape(client)
    assert value(families, "django_http_requests_total_by_method", method="GET") >= 2
    assert "django_http_requests_latency_seconds_by_view_method" in families
    # The database engine is django-prometheus's wrapper of PostgreSQL's.
    assert value(families, "django_db_execute", alias="default", vendor="postgresql") > 0
    assert "django_db_query_duration_seconds" in families


def test_celery_tasks_are_counted_by_name_and_outcome(client, token):
    def counts():
        return (
            TASK_SUCCEEDED.labels("tests.metrics.fine")._value.get(),
            TASK_FAILED.labels("tests.metrics.broken")._value.get(),
            TASK_RUNTIME.labels("tests.metrics.broken")._sum.get(),
        )

    before = counts()
    fine.apply()
    fine.apply()
    broken.apply()
    after = counts()
    assert after[0] - before[0] == 2
    assert after[1] - before[1] == 1
    families = scrape(client)
    assert value(families, "prm_celery_task_succeeded", task="tests.metrics.fine") == after[0]
    assert value(families, "prm_celery_task_failed", task="tests.metrics.broken") == after[1]
    runs = families["prm_celery_task_runtime_seconds"]
    count = ("prm_celery_task_runtime_seconds_count", (("task", "tests.metrics.fine"),))
    assert runs[count] >= 2


def test_retries_are_counted():
    from celery.signals import task_retry

    before = TASK_RETRIED.labels("tests.metrics.fine")._value.get()
    task_retry.send(sender=fine, request=None, reason="broker away", einfo=None)
    assert TASK_RETRIED.labels("tests.metrics.fine")._value.get() == before + 1


def test_business_figures_in_a_few_queries(client, token, django_assert_max_num_queries):
    now = timezone.now()
    today = timezone.localdate()
    partner = PartnerFactory()
    sla = partner.program.registration_sla_hours
    DealFactory(partner=partner, submitted_at=now - timedelta(hours=sla + 1))
    DealFactory(partner=partner, submitted_at=now - timedelta(hours=sla + 30), needs_review=True)
    DealFactory(partner=partner, submitted_at=now - timedelta(hours=sla - 1))  # not yet due
    DealFactory(partner=partner, submitted_at=now - timedelta(hours=sla + 5), status="rejected")
    for verify_by, status in [
        (today - timedelta(days=1), "submitted"),
        (today - timedelta(days=9), "submitted"),
        (today, "submitted"),  # due today: not late yet
        (today - timedelta(days=3), "approved"),
    ]:
        IncentiveClaim.objects.create(
            partner=partner, amount=Decimal("100.00"), verify_by=verify_by, status=status
        )
    QuarterClose.objects.create(quarter="2025Q4", state="failed")
    QuarterClose.objects.create(quarter="2026Q1", state="failed")
    QuarterClose.objects.create(
        quarter="2026Q2",
        state="done",
        started_at=now - timedelta(minutes=10),
        finished_at=now - timedelta(minutes=10) + timedelta(seconds=95),
    )

    with django_assert_max_num_queries(5):
        families = scrape(client)

    assert value(families, "prm_business_metrics_up") == 1
    assert value(families, "prm_registrations_past_approval_sla") == 2
    assert value(families, "prm_incentive_claims_past_verification_sla") == 2
    assert value(families, "prm_quarter_closes_failed") == 2
    assert value(families, "prm_quarter_close_last_duration_seconds", quarter="2026Q2") == 95
    states = {
        state: value(families, "prm_quarter_close_last_state", quarter="2026Q2", state=state)
        for state in QuarterClose.State.values
    }
    assert states == {"queued": 0, "running": 0, "done": 1, "failed": 0}


def test_a_running_close_shows_how_long_it_has_run_and_no_close_shows_nothing(client, token):
    families = scrape(client)
    assert "prm_quarter_close_last_state" not in families
    assert value(families, "prm_registrations_past_approval_sla") == 0
    QuarterClose.objects.create(
        quarter="2026Q3", state="running", started_at=timezone.now() - timedelta(hours=1)
    )
    families = scrape(client)
    assert value(families, "prm_quarter_close_last_state", quarter="2026Q3", state="running")
    assert value(families, "prm_quarter_close_last_duration_seconds", quarter="2026Q3") >= 3600


# ---------------------------------------------------------------- several processes


def test_counts_of_several_processes_add_up_in_multiprocess_mode(tmp_path):
    """gunicorn's workers and Celery's prefork children each count in the shared directory;
    the metrics view adds them up."""
    script = textwrap.dedent(
        """
        import multiprocessing, django
        django.setup()
        from celery.signals import task_failure
        from prometheus_client import generate_latest
        from prm.metrics import process_registry

        class Task:
            name = "deals.auto_approve"

        def child():
            task_failure.send(sender=Task, task_id="x", exception=ValueError())

        fork = multiprocessing.get_context("fork")
        for _ in range(3):
            process = fork.Process(target=child)
            process.start()
            process.join()
        print(generate_latest(process_registry()).decode())
        """
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "prm.settings.test",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG,
    )
    assert result.returncode == 0, result.stderr
    assert 'prm_celery_task_failed_total{task="deals.auto_approve"} 3.0' in result.stdout
    assert list(tmp_path.glob("counter_*.db"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_prefork_worker_serves_its_counts_and_logs_tasks_with_the_senders_request_id(
    transactional_db, tmp_path
):
    """The whole path on a real worker (prefork, two children): the task runs in a child,
    its count reaches the worker's metrics port through the multiprocess directory, and its
    JSON log line carries the id of the request that sent it."""
    from deals.tasks import auto_approve
    from prm import logs

    port = _free_port()
    (tmp_path / "metrics").mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_SETTINGS_MODULE": "prm.settings.test",
        "TEST_DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "WORKER_METRICS_PORT": str(port),
        "LOG_FORMAT": "json",
    }
    app.control.purge()
    output = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "prm",
            "worker",
            "--pool=prefork",
            "--concurrency=2",
            "--loglevel=info",
            "--without-gossip",
            "--without-mingle",
            "--hostname=metrics@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    try:
        assert wait_for(lambda: app.control.ping(timeout=0.5) or worker.poll() is not None)
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()
        logs.context_set("req-sent-to-worker")
        auto_approve.delay()
        logs.context_clear()

        def counted() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    page = r.read().decode()
            except OSError:
                return False
            return 'prm_celery_task_succeeded_total{task="deals.auto_approve"} 1.0' in page

        assert wait_for(counted), (tmp_path / "worker.log").read_text()
    finally:
        stop_worker(worker)
        output.close()
        connection.close()
    lines = [
        json.loads(line)
        for line in (tmp_path / "worker.log").read_text().splitlines()
        if line.startswith("{")
    ]
    succeeded = [line for line in lines if "succeeded" in line["message"]]
    assert succeeded, lines
    assert succeeded[0]["request_id"] == "req-sent-to-worker"
    assert {"timestamp", "level", "logger", "message", "user_id"} <= set(succeeded[0])
