"""A signed-in person's rendered page, kept and served again while nothing it shows has
changed.

The portal's busiest page (the deal list) costs a few milliseconds to render and a signed-in
request costs two queries before the view runs at all (the person, their membership). A
page kept here is answered from two reads: one cache read (the page and the session
together) and one index lookup of the partner's page stamp. The view, the person's row and
the template are skipped.

When a kept page is served, all of these hold, or the request takes the normal path:

- the same browser session: pages are keyed by a digest of the session cookie, so no one
  else's cookie finds them, and the session must still be in the cache with the same
  signed-in person and the same password hash (a sign-out or a password change ends it);
- nothing the page shows has changed since it was drawn: database triggers touch the
  partner's ``PageStamp`` in the same transaction as any write to the tables the portal's
  navigation and the page read (people, memberships, notices, deals;
  ``partners/migrations/0014``, ``deals/migrations/0009``), whoever writes them. The stamp is
  read before the view reads its rows, so a change committed while the page was drawn makes
  it stale, never the other way round;
- the same day, language, path and query (only the parameters the view declares) and the
  same code, templates and translations (``release()``, a digest of the files taken at
  start-up);
- no messages waiting to be shown, and no CSP nonce in the page.

The page's CSRF token is not kept: each answer carries a fresh one for the session's
secret. On by default with PostgreSQL and sessions in the cache (``cached_db``); off
otherwise and with ``PAGE_CACHE = False``.
"""

import hashlib
import re
from collections.abc import Callable
from functools import cache, wraps
from importlib import import_module
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import caches
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from .roles import Role, role_of

CACHE_ENGINES = {
    "django.contrib.sessions.backends.cache",
    "django.contrib.sessions.backends.cached_db",
}
# Stands for the CSRF token in a kept page; letters only, so no escaping changes it.
TOKEN_MARK = "PRMPAGECACHECSRFTOKENMARK"
TOKEN_FIELD = re.compile(rb'name="csrfmiddlewaretoken" value="([A-Za-z0-9]{32,64})"')
STAMP_SQL = "SELECT stamp FROM prm_pagestamp WHERE scope = %s"
MISSING = object()
MESSAGES_KEY = "_messages"  # where FallbackStorage keeps messages that overflow the cookie
MESSAGES_COOKIE = CookieStorage.cookie_name


@cache
def enabled() -> bool:
    return (
        getattr(settings, "PAGE_CACHE", True)
        and connection.vendor == "postgresql"
        and settings.SESSION_ENGINE in CACHE_ENGINES
    )


@cache
def release() -> str:
    """A digest of the project's code, templates and compiled translations as they are
    now: a deploy that changes any of them leaves every kept page behind."""
    base = Path(settings.BASE_DIR).resolve()
    folders = [Path(folder) for folder in settings.TEMPLATES[0]["DIRS"]]
    folders += [Path(folder) for folder in settings.LOCALE_PATHS]
    folders += [
        Path(app.path)
        for app in apps.get_app_configs()
        if Path(app.path).resolve().is_relative_to(base) and ".venv" not in Path(app.path).parts
    ]
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.suffix in {".py", ".html", ".mo", ".txt"}:
                stat = path.stat()
                digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def read_stamp(scope: int):
    """The scope's page stamp now (None: nothing written since the triggers came)."""
    with connection.cursor() as cursor:
        cursor.execute(STAMP_SQL, [scope])
        row = cursor.fetchone()
    return row[0] if row else None


def _read_stamp_quickly(scope: int):
    """``read_stamp`` on the worker's open connection, skipping Django's per-request health
    check (a ``SELECT 1`` of its own): half the database round trips of a kept page. With no
    open connection yet it opens one as usual. Inside a transaction, or on any error, the
    caller takes the normal path (``MISSING``), which checks and reopens the connection."""
    if connection.in_atomic_block:
        return MISSING
    raw = connection.connection
    if raw is None:
        return read_stamp(scope)
    if not connection.autocommit:
        return MISSING
    try:
        with raw.cursor() as cursor:
            cursor.execute(STAMP_SQL, [scope])
            row = cursor.fetchone()
    except connection.Database.Error:
        return MISSING
    return row[0] if row else None


def _session_cache_key(session_key: str) -> str:
    store = import_module(settings.SESSION_ENGINE).SessionStore
    return store.cache_key_prefix + session_key


def _page_key(request: HttpRequest, session_key: str, params: tuple[str, ...]) -> str | None:
    if any(name not in params for name in request.GET):
        return None
    query = "&".join(f"{name}={request.GET.get(name, '')}" for name in params)
    material = "|".join(
        [
            session_key,
            request.path,
            query,
            getattr(request, "LANGUAGE_CODE", ""),
            timezone.localdate().isoformat(),
            release(),
        ]
    )
    return "page:" + hashlib.sha256(material.encode()).hexdigest()


def session_page_cache(*, scope: Callable[[object], int | None], params: tuple[str, ...] = ()):
    """Keep the view's page per session (see the module's notes). ``scope(user)`` names the
    partner whose page stamp covers what the page shows; ``params`` are the query
    parameters the view reads (a request with any other is not kept). For partner people's
    pages that show only what the stamp triggers cover."""

    def decorator(view):
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if request.method != "GET" or not enabled():
                return view(request, *args, **kwargs)
            session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
            if not session_key or MESSAGES_COOKIE in request.COOKIES:
                return view(request, *args, **kwargs)
            key = _page_key(request, session_key, params)
            if key is None:
                return view(request, *args, **kwargs)
            page_cache = caches["default"]
            session_cache = caches[settings.SESSION_CACHE_ALIAS]
            session_key_cached = _session_cache_key(session_key)
            if page_cache is session_cache:
                found = page_cache.get_many([key, session_key_cached])
                kept, session = found.get(key), found.get(session_key_cached)
            else:
                kept, session = page_cache.get(key), session_cache.get(session_key_cached)
            if kept is not None and _still_good(kept, session):
                return _answer(request, kept["html"])
            return _draw_and_keep(view, request, args, kwargs, key, scope)

        wrapper.page_cache = True
        return wrapper

    return decorator


def _still_good(kept: dict, session: dict | None) -> bool:
    return (
        session is not None
        and str(session.get(SESSION_KEY)) == str(kept["user"])
        and session.get(HASH_SESSION_KEY) == kept["hash"]
        and MESSAGES_KEY not in session
        and _read_stamp_quickly(kept["scope"]) == kept["stamp"]
    )


def _answer(request: HttpRequest, html: str) -> HttpResponse:
    response = HttpResponse(html.replace(TOKEN_MARK, get_token(request)))
    # What the normal path's session middleware adds when it reads the session.
    patch_vary_headers(response, ("Cookie",))
    return response


def _carries_nonce(request: HttpRequest, response: HttpResponse) -> bool:
    nonce = getattr(request, "csp_nonce", None)
    return bool(nonce) and nonce.encode() in response.content


def _draw_and_keep(view, request, args, kwargs, key, scope) -> HttpResponse:
    if role_of(request.user) != Role.PARTNER:
        return view(request, *args, **kwargs)
    scope_id = scope(request.user)
    if scope_id is None:
        return view(request, *args, **kwargs)
    stamp = read_stamp(scope_id)
    # The person and their membership were read before the stamp: read them again, so that
    # everything the page shows is at least as new as the stamp it is kept with.
    request.user = request._cached_user = get_user(request)
    response = view(request, *args, **kwargs)
    session = request.session
    if (
        response.status_code != 200
        or response.streaming
        or not response.get("Content-Type", "").startswith("text/html")
        or role_of(request.user) != Role.PARTNER
        or scope(request.user) != scope_id
        or MESSAGES_KEY in session
        or MESSAGES_COOKIE in response.cookies
        or _carries_nonce(request, response)
    ):
        return response
    html = response.content
    token = TOKEN_FIELD.search(html)
    if token:
        html = html.replace(token.group(1), TOKEN_MARK.encode())
    caches["default"].set(
        key,
        {
            "html": html.decode(response.charset),
            "user": request.user.pk,
            "hash": session.get(HASH_SESSION_KEY),
            "scope": scope_id,
            "stamp": stamp,
        },
        settings.PAGE_CACHE_SECONDS,
    )
    return response
