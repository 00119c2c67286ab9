"""Health endpoints for load balancers, container orchestrators and docker compose.

``/healthz/`` is liveness: the process answers, with a constant and no database or cache
call, so it stays cheap under load (the load bench uses it as the server's ceiling).
``/readyz/`` is readiness: the database answers too.
"""

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

LIVE = b'{"status": "ok"}'


@never_cache
def healthz(request):
    return HttpResponse(LIVE, content_type="application/json")


@never_cache
def readyz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # any database error means "not ready"; the reason is in the logs
        return JsonResponse({"status": "unavailable", "database": "down"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})
