"""Health endpoints for load balancers, container orchestrators and docker compose.

``/healthz/`` is liveness: the process answers, with a constant and no database or cache
call, so it stays cheap under load (the load bench uses it as the server's ceiling).
``/readyz/`` is readiness, with the state of each server the site uses in its body:
``{"status": "ok" | "degraded" | "unavailable", "database": …, "cache": …, "broker": …}``,
each ``ok``, ``down`` or ``local`` (in-process: no server to lose). Only the database
makes the site unready (503): without Redis it still serves (prm.cache fails open, sign-in
limits are in the database, a requested close stays queued), so Redis or the broker being down
is ``degraded``, answered 200, for the dashboards and alerts to see.
"""

import logging

import redis
from django.conf import settings
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache

logger = logging.getLogger(__name__)

LIVE = b'{"status": "ok"}'
# A readiness probe must answer within the orchestrator's timeout even when Redis hangs.
PING_TIMEOUT = 0.5


@never_cache
def healthz(request) -> HttpResponse:
    return HttpResponse(LIVE, content_type="application/json")


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any database error means "not ready"
        logger.warning("Readiness: database down: %s", exc)
        return "down"
    return "ok"


def _redis(url: str, what: str) -> str:
    client = redis.Redis.from_url(
        url, socket_connect_timeout=PING_TIMEOUT, socket_timeout=PING_TIMEOUT
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        logger.warning("Readiness: %s down: %s", what, exc)
        return "down"
    finally:
        client.close()
    return "ok"


def _cache() -> str:
    config = settings.CACHES["default"]
    if not issubclass(import_string(config["BACKEND"]), RedisCache):
        return "local"
    location = config["LOCATION"]
    return _redis(location[0] if isinstance(location, list) else location, "cache")


def _broker() -> str:
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://")):
        return _redis(url, "broker")
    return "local"  # the filesystem broker of `make run`


@never_cache
def readyz(request) -> HttpResponse:
    states = {"database": _database(), "cache": _cache(), "broker": _broker()}
    if states["database"] == "down":
        return JsonResponse({"status": "unavailable", **states}, status=503)
    status = "degraded" if "down" in states.values() else "ok"
    return JsonResponse({"status": status, **states})
