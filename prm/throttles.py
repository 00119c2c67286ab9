"""Limits on guessing and on anonymous forms, kept in the database so that they hold while
the cache (Redis) is down.

Sign-ins: django-axes counts failed attempts (portal, admin through the portal, the API's
token endpoint, two-factor codes) per username and per address in its tables. Its hooks,
named in settings (``AXES_*``), are here: how a username and an address are read, how a
lockout answers (429 with ``Retry-After``), and one limit per username beside a larger one
per address.

Anonymous forms (the application form, the password-reset request): each accepted post is
recorded with a hash of its address (``FormPost``), and an address past its hourly
allowance is answered 429.
"""

import hashlib
import hmac
import math
from collections.abc import Callable
from datetime import timedelta
from functools import wraps

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Q, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from prm.models import FormPost

# ---------------------------------------------------------------- who is asking


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or, behind ``TRUSTED_PROXY_COUNT`` proxies of
    ours, the address the outermost of them saw (X-Forwarded-For, counted from the right:
    whatever stands further left was written by the client and proves nothing)."""
    hops = settings.TRUSTED_PROXY_COUNT
    if hops:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR") or None  # a request made in-process, no network


def attempted_username(request: HttpRequest, credentials: dict | None) -> str:
    """The account an attempt aims at, one key however it is named: the portal takes a
    username or an e-mail address, in any case, so ``Andy``, ``andy`` and ``andy@…`` all
    count against ``andy``. A name that is nobody's counts as typed (lower case)."""
    credentials = credentials or {}
    given = credentials.get("login") or credentials.get("username") or credentials.get("email")
    if not given:
        data = getattr(request, "data", None) or request.POST
        given = data.get("login") or data.get("username") or ""
    given = str(given).strip().lower()[:150]
    known = getattr(request, "_attempted_usernames", None)
    if known is None:
        known = request._attempted_usernames = {}
    if given not in known:
        username = (
            get_user_model()
            .objects.filter(Q(username__iexact=given) | Q(email__iexact=given))
            .order_by("pk")
            .values_list("username", flat=True)
            .first()
        )
        known[given] = (username or given).lower()
    return known[given]


# ---------------------------------------------------------------- lockouts


def retry_after_seconds() -> int:
    """How long a locked-out client waits: the cool-off, which every attempt during the
    lockout starts again (``AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT``)."""
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def throttled_response(request: HttpRequest, *, message: str, retry_after: int) -> HttpResponse:
    """429 with ``Retry-After``: the API's error shape under /api/, a page elsewhere."""
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message, "code": "throttled"}, status=429)
        response["Cache-Control"] = "no-store"
    else:
        response = render(
            request,
            "429.html",
            {"message": message, "minutes": max(1, math.ceil(retry_after / 60))},
            status=429,
        )
    response["Retry-After"] = str(retry_after)
    return response


def sign_in_locked_message() -> str:
    return _("Too many failed sign-in attempts. Try again later.")


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """What axes answers once an attempt is locked out (``AXES_LOCKOUT_CALLABLE``)."""
    return throttled_response(
        request, message=sign_in_locked_message(), retry_after=retry_after_seconds()
    )


class SignInAttemptsHandler(AxesDatabaseHandler):
    """axes' database handler with two limits: ``AXES_FAILURE_LIMIT`` failures for one
    username, ``SIGN_IN_FAILURES_PER_ADDRESS`` from one address (an office behind one
    address makes more honest mistakes than one person). axes compares a single count with
    a single limit, so the address's count is scaled to the username's limit."""

    def get_failures(self, request, credentials: dict | None = None) -> int:
        # One queryset per entry of AXES_LOCKOUT_PARAMETERS: ["username", "ip_address"].
        per_username, per_address = (
            attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        limit = settings.AXES_FAILURE_LIMIT
        return max(per_username, per_address * limit // settings.SIGN_IN_FAILURES_PER_ADDRESS)


# ---------------------------------------------------------------- anonymous forms

# Old records are of no use past the longest window; each recording sweeps them.
FORM_POST_KEPT = timedelta(days=1)


def address_hash(address: str) -> str:
    """The address as a keyed hash: enough to count its posts, useless to anyone who
    reads the table without the secret key."""
    return hmac.new(settings.SECRET_KEY.encode(), address.encode(), hashlib.sha256).hexdigest()


def _count_posts_one_at_a_time(kind: str, digest: str) -> None:
    """Posts of one address are judged one at a time (a lock held to the end of the
    transaction: PgBouncer-safe), so a burst of parallel posts cannot all pass one count.
    SQLite's write transactions are serial already."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"{kind}:{digest}"])


def anonymous_post_wait(*, digest: str, kind: str, limit: int, window: timedelta) -> int:
    """Seconds until the address may post ``kind`` again; 0 when it may now."""
    since = timezone.now() - window
    oldest = (
        FormPost.objects.filter(kind=kind, address_hash=digest, posted_at__gte=since)
        .order_by("-posted_at")
        .values_list("posted_at", flat=True)[limit - 1 : limit]
        .first()
    )
    if oldest is None:
        return 0
    return max(1, math.ceil((oldest + window - timezone.now()).total_seconds()))


def anonymous_post_record(*, digest: str, kind: str) -> None:
    """Count one accepted post of ``kind`` from the address (and sweep old records)."""
    now = timezone.now()
    FormPost.objects.filter(posted_at__lt=now - FORM_POST_KEPT).delete()
    FormPost.objects.create(kind=kind, address_hash=digest, posted_at=now)


def anonymous_posts_limited(
    kind: str, *, counts: Callable[[HttpResponse], bool], window: timedelta = timedelta(hours=1)
) -> Callable:
    """Decorate the view of an anonymous form: a POST from an address that has used up its
    ``ANONYMOUS_POSTS_PER_HOUR`` is answered 429 before the view runs; a POST the view
    accepted (``counts(response)``) is recorded, in the same transaction."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method != "POST":
                return view(request, *args, **kwargs)
            digest = address_hash(client_ip(request) or "")
            with transaction.atomic():
                _count_posts_one_at_a_time(kind, digest)
                wait = anonymous_post_wait(
                    digest=digest,
                    kind=kind,
                    limit=settings.ANONYMOUS_POSTS_PER_HOUR,
                    window=window,
                )
                if wait:
                    return throttled_response(
                        request,
                        message=_("Too many submissions from your network. Try again later."),
                        retry_after=wait,
                    )
                response = view(request, *args, **kwargs)
                if counts(response):
                    anonymous_post_record(digest=digest, kind=kind)
            return response

        return wrapped

    return decorate
