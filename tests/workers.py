"""A real Celery worker on Redis, against the test database, for the tests that need one."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def start_worker(extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """``celery -A prm worker`` (solo pool: the task runs in the worker process itself) on
    the test broker and database, once it answers a ping. ``extra_env``: more environment
    for its settings (``TEST_EMAIL_FILE_PATH``: its mail goes to files there)."""
    from prm.celery import app

    name = connection.settings_dict["NAME"]
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_SETTINGS_MODULE": "prm.settings.test",
        "TEST_DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}",
        **(extra_env or {}),
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "prm",
            "worker",
            "--pool=solo",
            "--loglevel=warning",
            "--without-gossip",
            "--without-mingle",
            "--hostname=test@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if app.control.ping(timeout=0.5):
            return worker
        if worker.poll() is not None:
            raise RuntimeError(worker.stdout.read().decode(errors="replace"))
    worker.kill()
    raise RuntimeError("The Celery worker did not start within 60 s.")


def stop_worker(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(timeout=20)


@pytest.fixture
def celery_worker_process(transactional_db):
    """A worker for the test; stopped afterwards.

    The data a test makes must be committed (transactional tests) for the worker to see it.
    """
    from prm.celery import app

    app.control.purge()
    worker = start_worker()
    yield worker
    stop_worker(worker)
    connection.close()


def wait_for(predicate, *, timeout: float = 60, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False
