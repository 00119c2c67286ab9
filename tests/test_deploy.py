"""Deployment: migrations as a one-shot job, the docker-compose stack, and the Kubernetes
manifests of deploy/k8s, rendered by kustomize and checked offline against the API's
schemas (kubernetes-validate ships them)."""

import functools
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.db import OperationalError, connection, transaction

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = sorted(p.parent.name for p in (K8S / "overlays").glob("*/kustomization.yaml"))
# The oldest Kubernetes the manifests are written for; kubernetes-validate ships its schemas.
KUBERNETES_VERSION = "1.30"
APP_COMPONENTS = {"web", "worker", "beat", "migrate"}
# Read by the processes themselves, not by the settings.
# Read by the processes themselves, not the settings: Django, fontconfig, prometheus_client.
PROCESS_ENV = {"DJANGO_SETTINGS_MODULE", "XDG_CACHE_HOME", "PROMETHEUS_MULTIPROC_DIR"}


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
    # Only a guard against a hang, never a speed check: a busy machine is slow.
    outputs = [run.communicate(timeout=1200)[0] for run in runs]
    for run, output in zip(runs, outputs, strict=True):
        assert run.returncode == 0, output
    # One applied everything, the other nothing.
    assert sum("No migrations to apply." in output for output in outputs) == 1, outputs
    with psycopg2.connect(empty_database) as db, db.cursor() as cursor:
        cursor.execute("SELECT count(*), count(DISTINCT (app, name)) FROM django_migrations")
        applied, distinct = cursor.fetchone()
    assert applied == distinct > 0


@pytest.fixture
def lock_held_elsewhere(db):
    """migrate's advisory lock, held by another session on the test database."""
    from prm.management.commands.migrate import LOCK_KEY

    other = psycopg2.connect(
        dbname=connection.settings_dict["NAME"],
        host=connection.settings_dict["HOST"] or "127.0.0.1",
        port=connection.settings_dict["PORT"] or 5432,
        user=connection.settings_dict["USER"] or "postgres",
        password=connection.settings_dict["PASSWORD"] or None,
    )
    other.autocommit = True
    with other.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
    yield other
    other.close()


def lock_is_free(session) -> bool:
    from prm.management.commands.migrate import LOCK_KEY

    with session.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
        free = cursor.fetchone()[0]
        if free:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
    return free


def test_migrate_waits_for_the_lock_and_releases_it(lock_held_elsewhere):
    from prm.management.commands.migrate import LOCK_KEY

    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '1s'")
    # While another run holds it, migrate waits (here: until the timeout).
    with pytest.raises(OperationalError, match="lock timeout"), transaction.atomic():
        call_command("migrate", verbosity=0)
    with lock_held_elsewhere.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
    call_command("migrate", verbosity=0)  # nothing to apply on the test database
    assert lock_is_free(lock_held_elsewhere)


def test_checking_for_unapplied_migrations_takes_no_lock(lock_held_elsewhere):
    """The pods' wait for the migrate Job runs `migrate --check`, possibly through
    PgBouncer, where a session lock would be left behind on a pooled connection."""
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '1s'")
    call_command("migrate", check_unapplied=True, verbosity=0)
    call_command("migrate", plan=True, verbosity=0)


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


# --- Kubernetes ------------------------------------------------------------------------


@functools.cache
def render(overlay: str) -> list[dict]:
    done = subprocess.run(
        ["kubectl", "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(params=OVERLAYS)
def objects(request) -> list[dict]:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed (apt-get install kubectl; .ci/run does)")
    return render(request.param)


def find(objects, kind: str, name: str) -> dict:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def workloads(objects) -> list[dict]:
    return [o for o in objects if o["kind"] in ("Deployment", "Job")]


def app_workloads(objects) -> list[dict]:
    return [
        o
        for o in workloads(objects)
        if o["metadata"]["labels"].get("app.kubernetes.io/component") in APP_COMPONENTS
    ]


def containers(workload: dict) -> list[dict]:
    spec = workload["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def config_map(objects) -> dict:
    (found,) = [
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("prm-config-")
    ]
    return found


def secret_templates() -> dict[str, set[str]]:
    """Each Secret the manifests read, with its keys, from the templates in the repository
    (production leaves them out of its render: the cluster's secret store holds them)."""
    found = {}
    for path in (
        K8S / "base" / "secrets.yaml",
        K8S / "components" / "pgbouncer" / "pgbouncer.yaml",
        K8S / "components" / "s3-media" / "secret.yaml",
    ):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["kind"] == "Secret":
                found[doc["metadata"]["name"]] = set(doc["stringData"])
    return found


def test_every_object_is_valid_for_the_kubernetes_api(objects):
    import kubernetes_validate

    for obj in objects:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {error.message}")


def test_the_pieces_are_all_there(objects):
    for kind, name in [
        ("Deployment", "prm-web"),
        ("Service", "prm-web"),
        ("HorizontalPodAutoscaler", "prm-web"),
        ("PodDisruptionBudget", "prm-web"),
        ("Deployment", "prm-worker"),
        ("PodDisruptionBudget", "prm-worker"),
        ("Deployment", "prm-beat"),
        ("Job", "prm-migrate"),
    ]:
        find(objects, kind, name)
    # Uploads on the shared volume, unless they are kept in object storage.
    if config_map(objects)["data"].get("MEDIA_STORAGE") != "s3":
        find(objects, "PersistentVolumeClaim", "prm-media")
    # One namespace for everything, set by the overlay.
    assert {o["metadata"].get("namespace") for o in objects} == {"prm"}


def test_beat_runs_exactly_one_pod_and_never_two_during_a_release(objects):
    beat = find(objects, "Deployment", "prm-beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    assert "beat" in beat["spec"]["template"]["spec"]["containers"][0]["command"]
    assert not any(
        o["kind"] == "HorizontalPodAutoscaler" and o["spec"]["scaleTargetRef"]["name"] == "prm-beat"
        for o in objects
    )


def test_web_is_probed_for_liveness_and_readiness_on_its_host(objects):
    web = find(objects, "Deployment", "prm-web")
    (container,) = web["spec"]["template"]["spec"]["containers"]
    port = container["ports"][0]
    assert port["containerPort"] == 8000
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz/"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz/"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz/"
    # Django answers only ALLOWED_HOSTS: each probe sends the first of them.
    first_host = config_map(objects)["data"]["ALLOWED_HOSTS"].split(",")[0]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = container[probe]["httpGet"]
        assert get["port"] in (port["name"], port["containerPort"]), probe
        assert get["httpHeaders"] == [{"name": "Host", "value": first_host}], probe
    service = find(objects, "Service", "prm-web")
    assert (
        service["spec"]["selector"].items() <= web["spec"]["template"]["metadata"]["labels"].items()
    )


def test_the_autoscaler_scales_the_web_deployment_on_cpu(objects):
    hpa = find(objects, "HorizontalPodAutoscaler", "prm-web")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "prm-web",
    }
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    # The autoscaler owns the count: a replicas field would reset it at every apply.
    assert "replicas" not in find(objects, "Deployment", "prm-web")["spec"]
    # CPU utilisation is measured against the request.
    (web,) = find(objects, "Deployment", "prm-web")["spec"]["template"]["spec"]["containers"]
    assert web["resources"]["requests"]["cpu"]


@pytest.mark.parametrize("name", ["prm-web", "prm-worker"])
def test_disruption_budgets_select_their_pods(objects, name):
    budget = find(objects, "PodDisruptionBudget", name)
    pods = find(objects, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
    selector = budget["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pods.items()
    others = [o for o in workloads(objects) if o["metadata"]["name"] != name]
    for other in others:
        assert not selector.items() <= other["spec"]["template"]["metadata"]["labels"].items()


def test_migrations_run_as_a_job_on_a_direct_connection_before_the_pods_start(objects):
    job = find(objects, "Job", "prm-migrate")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # Never through PgBouncer: the migrations and their advisory lock need a session.
    (database,) = [e for e in container["env"] if e["name"] == "DATABASE_URL"]
    assert database["valueFrom"]["secretKeyRef"]["name"] == "prm-database-direct"
    # The new pods wait for it.
    for name in ("prm-web", "prm-worker", "prm-beat"):
        spec = find(objects, "Deployment", name)["spec"]["template"]["spec"]
        (wait,) = spec["initContainers"]
        assert "manage.py migrate --check" in " ".join(wait["command"]), name
        assert wait["image"] == container["image"], name


def test_every_container_runs_as_a_user_with_a_read_only_root(objects):
    for workload in workloads(objects):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["automountServiceAccountToken"] is False
        for container in containers(workload):
            where = f"{workload['metadata']['name']}/{container['name']}"
            context = container["securityContext"]
            assert context.get("runAsUser", pod["securityContext"]["runAsUser"]) != 0, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert container["resources"]["requests"], where
            assert container["resources"]["limits"]["memory"], where
            volumes = {v["name"] for v in pod.get("volumes", [])}
            assert {m["name"] for m in container.get("volumeMounts", [])} <= volumes, where
        if workload["metadata"]["labels"]["app.kubernetes.io/component"] in APP_COMPONENTS:
            assert pod["securityContext"]["runAsUser"] == 1000  # the image's user
            mounts = {m["mountPath"] for c in containers(workload) for m in c["volumeMounts"]}
            assert "/tmp" in mounts


def test_every_image_is_pinned_by_tag(objects):
    for workload in workloads(objects):
        for container in containers(workload):
            image = container["image"]
            name, _, tag = image.rpartition(":")
            assert name and "/" not in tag, f"{image}: no tag"
            assert tag != "latest", image
            # The placeholder of the base is always replaced by the overlay.
            assert name != "prm", image


def test_every_variable_the_app_gets_is_one_the_settings_read(objects):
    known = settings_env_names() | PROCESS_ENV
    templates = secret_templates()
    config = config_map(objects)
    for workload in app_workloads(objects):
        for container in containers(workload):
            where = f"{workload['metadata']['name']}/{container['name']}"
            names = {e["name"] for e in container.get("env", [])}
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] == config["metadata"]["name"], where
                    names |= set(config["data"])
                else:
                    names |= templates[source["secretRef"]["name"]]
            assert names <= known, f"{where}: not read by the settings: {names - known}"
            # What production refuses to start without.
            assert {"SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL"} <= names, where


def test_secrets_are_referenced_by_the_names_and_keys_of_their_templates(objects):
    templates = secret_templates()
    rendered = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Secret"}
    for workload in workloads(objects):
        for container in containers(workload):
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in templates
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in templates[ref["name"]], entry
    for name, secret in rendered.items():
        assert set(secret["stringData"]) == templates[name]


@pytest.mark.parametrize("overlay", [o for o in OVERLAYS if o.startswith("production")])
def test_production_carries_no_secret_values(overlay):
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed (apt-get install kubectl; .ci/run does)")
    objects = render(overlay)
    assert not [o for o in objects if o["kind"] == "Secret"]
    assert "change-me" not in yaml.safe_dump_all(objects)


def test_pgbouncer_pools_by_transaction_in_front_of_postgresql():
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed (apt-get install kubectl; .ci/run does)")
    objects = render("production-pgbouncer")
    pgbouncer = find(objects, "Deployment", "prm-pgbouncer")
    (container,) = pgbouncer["spec"]["template"]["spec"]["containers"]
    assert {"name": "POOL_MODE", "value": "transaction"} in container["env"]
    assert container["envFrom"] == [{"secretRef": {"name": "prm-pgbouncer"}}]
    service = find(objects, "Service", "prm-pgbouncer")
    assert service["spec"]["ports"][0]["port"] == 5432
    find(objects, "PodDisruptionBudget", "prm-pgbouncer")
    # Behind it, the app reads without server-side cursors.
    (config,) = [
        o for o in objects if o["kind"] == "ConfigMap" and "prm-config" in o["metadata"]["name"]
    ]
    assert config["data"]["DISABLE_SERVER_SIDE_CURSORS"] == "true"
    # The migrate Job still goes to PostgreSQL itself.
    job = find(objects, "Job", "prm-migrate")
    (database,) = job["spec"]["template"]["spec"]["containers"][0]["env"]
    assert database["valueFrom"]["secretKeyRef"]["name"] == "prm-database-direct"


def test_with_uploads_in_object_storage_no_pod_mounts_a_shared_volume():
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed (apt-get install kubectl; .ci/run does)")
    objects = render("production-s3")
    assert not [o for o in objects if o["kind"] == "PersistentVolumeClaim"]
    for workload in workloads(objects):
        pod = workload["spec"]["template"]["spec"]
        assert "persistentVolumeClaim" not in str(pod.get("volumes", [])), workload
        for container in containers(workload):
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert "/app/var/media" not in mounts, container["name"]
    data = config_map(objects)["data"]
    assert data["MEDIA_STORAGE"] == "s3" and data["AWS_STORAGE_BUCKET_NAME"]
    # Access keys only if the pods have no role of their own: an optional Secret.
    for name in ("prm-web", "prm-worker"):
        (container,) = find(objects, "Deployment", name)["spec"]["template"]["spec"]["containers"]
        assert {"secretRef": {"name": "prm-s3", "optional": True}} in container["envFrom"]
