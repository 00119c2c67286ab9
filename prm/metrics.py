"""Metrics for Prometheus, at ``/metrics`` for the web processes.

What is exported:

- requests (counts, latency by view and method, responses by status), database queries
  (counts, durations, errors, connections) and cache reads (hits, misses, failures), all
  under django-prometheus's names (its middleware, its database engines, and
  ``prm.cache``);
- Celery tasks by task name: ``prm_celery_task_succeeded_total``,
  ``prm_celery_task_failed_total``, ``prm_celery_task_retried_total`` and the histogram
  ``prm_celery_task_runtime_seconds``, counted by the signal receivers below;
- business figures computed from the database at each scrape by the collectors in
  ``SCRAPE_TIME``. ``prm`` cannot import the apps, so the top app registers them
  (``scoring.metrics``).

The endpoint answers only a bearer token equal to ``METRICS_TOKEN``; without one, or with
another, it is a 404 like any address that does not exist.

Several processes (gunicorn's workers, Celery's prefork pool) keep one count each. With
``PROMETHEUS_MULTIPROC_DIR`` set to a directory that is empty when they start and shared
by the processes of one host or pod, every process writes its counts there and a scrape
adds them up (prometheus_client's multiprocess mode). A Celery worker serves its own
counts on ``WORKER_METRICS_PORT`` when that is set (an internal port, not the site's).
"""

import hmac
import logging
import os
import time

from celery.signals import task_failure, task_postrun, task_prerun, task_retry
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)

logger = logging.getLogger(__name__)

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Collectors that read the database when scraped. auto_describe off: registering one must
# not run its queries (it happens while the apps load).
SCRAPE_TIME = CollectorRegistry(auto_describe=False)

TASK_SUCCEEDED = Counter(
    "prm_celery_task_succeeded_total", "Celery tasks that finished successfully.", ["task"]
)
TASK_FAILED = Counter(
    "prm_celery_task_failed_total", "Celery tasks that raised (retries excluded).", ["task"]
)
TASK_RETRIED = Counter("prm_celery_task_retried_total", "Celery task retries scheduled.", ["task"])
TASK_RUNTIME = Histogram(
    "prm_celery_task_runtime_seconds",
    "How long Celery tasks ran, whatever their outcome.",
    ["task"],
    # From the quick jobs (a notice, an auto-approval pass) to a quarter close.
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)


def scrape_collector_register(collector) -> None:
    SCRAPE_TIME.register(collector)


def process_registry() -> CollectorRegistry:
    """The counts of this process, or of every process sharing the multiprocess directory."""
    if os.environ.get(MULTIPROCESS_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


class _Together:
    """Two registries read as one (``generate_latest`` only calls ``collect``)."""

    def __init__(self, *registries):
        self.registries = registries

    def collect(self):
        for registry in self.registries:
            yield from registry.collect()


def _bearer_token(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    expected = settings.METRICS_TOKEN
    given = _bearer_token(request)
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Http404
    body = generate_latest(_Together(process_registry(), SCRAPE_TIME))
    return HttpResponse(body, content_type=CONTENT_TYPE_PLAIN_0_0_4)


def worker_metrics_serve(port: int, address: str = "0.0.0.0") -> None:
    """Serve the worker's counts over plain HTTP from a thread of the worker's main
    process; with the prefork pool, the children's counts reach it through the multiprocess
    directory."""
    if not os.environ.get(MULTIPROCESS_ENV):
        logger.warning(
            "WORKER_METRICS_PORT without %s: a prefork pool's task counts will be missing.",
            MULTIPROCESS_ENV,
        )
    start_http_server(port, addr=address, registry=process_registry())
    logger.info("Serving worker metrics on port %s", port)


# ---------------------------------------------------------------- Celery tasks

# When each running task began, by task id (one process runs one task at a time per
# thread; the entry is removed when the task ends).
_started: dict[str, float] = {}


@task_prerun.connect
def _task_started(task_id: str | None = None, **kwargs) -> None:
    if task_id:
        _started[task_id] = time.perf_counter()


@task_postrun.connect
def _task_ended(task_id: str | None = None, task=None, state: str | None = None, **kwargs):
    began = _started.pop(task_id, None) if task_id else None
    name = getattr(task, "name", None) or "unknown"
    if began is not None:
        TASK_RUNTIME.labels(name).observe(time.perf_counter() - began)
    if state == "SUCCESS":
        TASK_SUCCEEDED.labels(name).inc()


@task_failure.connect
def _task_failed(sender=None, **kwargs) -> None:
    TASK_FAILED.labels(getattr(sender, "name", None) or "unknown").inc()


@task_retry.connect
def _task_retried(sender=None, **kwargs) -> None:
    TASK_RETRIED.labels(getattr(sender, "name", None) or "unknown").inc()
