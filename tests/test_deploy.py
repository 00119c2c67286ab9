"""Deployment: migrations as a one-shot job, and the docker-compose stack."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
# Read by the processes themselves, not by the settings.
PROCESS_ENV = {"DJANGO_SETTINGS_MODULE", "XDG_CACHE_HOME"}


def settings_env_names() -> set[str]:
    """The environment variables the production settings read: env("X"), env.int("X")…"""
    source = "".join(
        (ROOT / "prm" / "settings" / name).read_text() for name in ("base.py", "production.py")
    )
    return set(re.findall(r'\benv(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]*)"', source))


# --- migrations as a one-shot job ------------------------------------------------------


@pytest.fixture
def empty_database():
    """A new, empty database on the test server (its URL), dropped afterwards."""
    server = settings.DATABASES["default"]
    name = f"prm_migrate_race_{secrets.token_hex(4)}"
    params = {
        "host": server["HOST"] or "127.0.0.1",
        "port": server["PORT"] or 5432,
        "user": server["USER"] or "postgres",
        "password": server["PASSWORD"] or None,
    }
    admin = psycopg2.connect(dbname="postgres", **params)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    password = f":{params['password']}" if params["password"] else ""
    try:
        yield f"postgres://{params['user']}{password}@{params['host']}:{params['port']}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_two_migrate_jobs_at_once_on_an_empty_database_both_succeed(empty_database):
    """Two releases, or a retried job, start `migrate` together: the second waits for the
    first's lock, then finds nothing to apply. (Django's own command fails here: both
    create the same tables.)"""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        # What the migrate job runs with: the production settings, straight to PostgreSQL.
        DJANGO_SETTINGS_MODULE="prm.settings.production",
        DATABASE_URL=empty_database,
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="prm.example.com",
        CELERY_BROKER_URL="memory://",
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    for run, output in zip(runs, outputs, strict=True):
        assert run.returncode == 0, output
    # One applied everything, the other nothing.
    assert sum("No migrations to apply." in output for output in outputs) == 1, outputs
    with psycopg2.connect(empty_database) as db, db.cursor() as cursor:
        cursor.execute("SELECT count(*), count(DISTINCT (app, name)) FROM django_migrations")
        applied, distinct = cursor.fetchone()
    assert applied == distinct > 0


# --- docker compose --------------------------------------------------------------------


def compose_services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_compose_file_runs_one_image_for_web_worker_and_beat_with_healthchecks():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"migrate", "web", "worker", "beat", "postgres", "redis"}
    app = ("migrate", "web", "worker", "beat")
    assert {services[name]["image"] for name in app} == {"prm:latest"}
    for name in ("web", "worker", "postgres", "redis"):
        assert "healthcheck" in services[name], name
    assert {"pgdata", "redisdata", "media"} <= set(compose["volumes"])
    env = services["web"]["environment"]
    assert set(env) <= settings_env_names() | PROCESS_ENV
    assert env["DATABASE_URL"].startswith("postgres://")
    assert env["REDIS_URL"].startswith("redis://redis:")
    assert (ROOT / "Dockerfile").read_text().count("FROM ") == 1


def test_compose_migrates_once_before_web_worker_and_beat_start():
    services = compose_services()
    migrate = services["migrate"]
    assert migrate["command"] == "python manage.py migrate --noinput"
    assert migrate["restart"] == "no"  # a one-shot job, not restarted once it has exited
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("web", "worker", "beat"):
        depends_on = services[name]["depends_on"]
        assert depends_on["migrate"] == {"condition": "service_completed_successfully"}, name
        assert "migrate" not in str(services[name].get("command", "")), name
    # web runs the image's command: gunicorn, nothing before it.
    assert "command" not in services["web"]
    assert re.search(r'^CMD \["gunicorn"', (ROOT / "Dockerfile").read_text(), re.M)
