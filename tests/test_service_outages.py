"""The site across outages of its servers, each of them a server of the test's own.

- PostgreSQL restarted during a burst of registrations: every registration answered 201
  is stored, every other one was answered 503 with a message and left nothing behind,
  and once the database is back every request succeeds again (``CONN_HEALTH_CHECKS``).
- Redis down: pages, logins and registrations keep working; a quarter close asked for
  meanwhile stays queued, and the sweep sends it to the broker once Redis is back;
  password guessing is still locked out (the count is in the database) and /readyz/ says
  "degraded".

The figures of a run are printed (``pytest -s``); docs/reliability.md quotes them.
"""

import itertools
import os
import shutil
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import psycopg2
import pytest
import time_machine
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from django.utils import timezone

from partners.models import ApiToken, PartnerRole
from prm.celery import app
from prm.roles import Role
from scoring import tasks
from scoring.models import QuarterClose
from scoring.services.close import REQUEUE_AFTER
from tests.factories import PartnerFactory, PartnerUserFactory, StaffFactory
from tests.throwaway import Postgres, Redis, Site, postgres_bin, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("program_data")]

THREADS = 8
PASSWORD = "Correct-Horse-9"
# The burst stops by itself: at most this many requests, and within this many seconds.
MAX_REQUESTS = 600
MAX_SECONDS = 90


def suite_database_url() -> str:
    """The suite's test database, as a URL for another process."""
    settings = connection.settings_dict
    user = settings["USER"] + (f":{settings['PASSWORD']}" if settings.get("PASSWORD") else "")
    host, port = settings["HOST"] or "127.0.0.1", settings.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{settings['NAME']}"


def registration(n: int) -> dict:
    return {
        "customer_name": f"Burst Customer {n}",
        "customer_domain": f"burst{n}.example",
        "amount": "25000.00",
        "expected_close": (timezone.localdate() + timedelta(days=60)).isoformat(),
        "deal_type": "new_logo",
        "compensation_model": "reseller",
    }


@dataclass
class Sent:
    n: int
    status: int | None
    body: object
    started: float


@pytest.fixture
def own_postgres():
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are not installed")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: initdb cannot run")
    cluster = Postgres(bin_dir)
    cluster.start()
    yield cluster
    cluster.destroy()


@pytest.fixture
def own_redis():
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = Redis()
    server.start()
    yield server
    server.stop()


def partner_token() -> str:
    member = PartnerUserFactory(
        partner=PartnerFactory(name="Burst Partners", domain="burst-partners.example"),
        role=PartnerRole.ADMIN,
        user__username="burst",
    )
    # The site runs with the default password hashers, not the suite's fast one.
    member.user.password = PBKDF2PasswordHasher().encode(PASSWORD, "burst-salt", iterations=1000)
    member.user.save(update_fields=["password"])
    return ApiToken.objects.create(user=member.user)[1]


def test_registrations_survive_a_database_restart(own_postgres):
    token = partner_token()
    own_postgres.load_from(suite_database_url())  # the migrated schema, the program, the user
    site = Site({"DATABASE_URL": own_postgres.url, "CONN_MAX_AGE": "60"})
    results: list[Sent] = []
    lock = threading.Lock()
    numbers = itertools.count()
    stop = threading.Event()
    deadline = time.monotonic() + MAX_SECONDS

    def fire():
        while not stop.is_set() and time.monotonic() < deadline:
            n = next(numbers)
            if n >= MAX_REQUESTS:
                return
            started = time.monotonic()
            try:
                status, body, _ = site.request(
                    "POST", "/api/v1/deals/", body=registration(n), token=token
                )
            except OSError as exc:  # no answer at all: counted, and fails the test
                status, body = None, repr(exc)
            with lock:
                results.append(Sent(n, status, body, started))
            if status == 503:
                time.sleep(0.05)  # a client that waits a little before the next try

    def count(status, since=0.0):
        with lock:
            return sum(1 for r in results if r.status == status and r.started >= since)

    threads = [threading.Thread(target=fire, daemon=True) for _ in range(THREADS)]
    try:
        for thread in threads:
            thread.start()
        wait_until(lambda: count(201) >= 40, timeout=60, what="40 registrations before")
        went_down = time.monotonic()
        own_postgres.stop()
        # Down for two seconds at least, and long enough to refuse twenty registrations.
        wait_until(
            lambda: count(503, went_down) >= 20 and time.monotonic() - went_down >= 2,
            timeout=30,
            what="20 refusals",
        )
        own_postgres.start()
        back = time.monotonic()
        wait_until(lambda: count(201, back) >= 40, timeout=60, what="40 registrations after")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        site.stop()

    accepted = {r.n: r for r in results if r.status == 201}
    refused = {r.n: r for r in results if r.status == 503}
    others = [(r.n, r.status, r.body) for r in results if r.status not in (201, 503)]
    print(
        f"\nburst: {len(results)} registrations from {THREADS} threads, "
        f"{len(accepted)} accepted, {len(refused)} refused (503), "
        f"database down {back - went_down:.2f} s (fast stop, ≥ 2 s and ≥ 20 refusals, start)"
    )
    assert not others, f"answers other than 201 and 503: {others[:5]}"
    assert all(r.body["code"] == "unavailable" and r.body["detail"] for r in refused.values())
    assert not [n for n, r in refused.items() if r.started >= back], "refused after the restart"

    with psycopg2.connect(own_postgres.url) as db, db.cursor() as cursor:
        cursor.execute(
            "SELECT id, customer_domain FROM deals_deal WHERE customer_domain LIKE 'burst%'"
        )
        stored = {domain: pk for pk, domain in cursor.fetchall()}
        cursor.execute("SELECT domain FROM partners_account WHERE domain LIKE 'burst%'")
        accounts = {domain for (domain,) in cursor.fetchall()}
        cursor.execute(
            "SELECT id, count(*) FROM deals_historicaldeal WHERE customer_domain LIKE 'burst%' "
            "AND history_type = '+' GROUP BY id"
        )
        created_records = dict(cursor.fetchall())
    # Every accepted registration is stored, under the id it was answered with ...
    assert {registration(n)["customer_domain"]: r.body["id"] for n, r in accepted.items()} == (
        stored
    )
    # ... and nothing else is: a refused one left no deal and no customer account.
    assert not {registration(n)["customer_domain"] for n in refused} & (set(stored) | accounts)
    # None half-written: each stored registration has its account and its history.
    assert set(stored) <= accounts
    assert created_records == dict.fromkeys(stored.values(), 1)


def sign_in(site: Site, username: str, password: str):
    """A browser's sign-in through the portal's login form; returns (status, opener)."""
    import http.cookiejar
    import re
    import urllib.parse
    import urllib.request

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(site.base + "/auth/login/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "login": username, "password": password}
    ).encode()
    response = opener.open(site.base + "/auth/login/", data=form, timeout=10)
    return response.status, response.url, opener


def queued_tasks(redis_server: Redis) -> list[tuple[str, str]]:
    import json

    import redis

    client = redis.Redis(port=redis_server.port)
    messages = [json.loads(raw) for raw in client.lrange("celery", 0, -1)]
    return sorted((m["headers"]["task"], m["headers"]["argsrepr"]) for m in messages)


def test_the_site_serves_and_registers_while_redis_is_down(own_redis):
    token = partner_token()
    chief = StaffFactory(username="burstchief", role=Role.CHANNEL_CHIEF)
    chief_token = ApiToken.objects.create(user=chief)[1]
    site = Site(
        {"DATABASE_URL": suite_database_url(), "REDIS_URL": own_redis.url, "CONN_MAX_AGE": "0"}
    )
    try:
        status, _, _ = site.request("POST", "/api/v1/deals/", body=registration(1), token=token)
        assert status == 201

        own_redis.stop()
        status, body, took_register = site.request(
            "POST", "/api/v1/deals/", body=registration(2), token=token
        )
        assert status == 201, body
        status, landed, opener = sign_in(site, "burst", PASSWORD)
        assert status == 200 and not landed.endswith("/auth/login/"), landed
        assert opener.open(site.base + "/portal/deals/", timeout=10).status == 200
        status, body, took_close = site.request(
            "POST", "/api/v1/quarters/2026Q2/close/", token=chief_token
        )
        assert status == 202, body
        # Not sent, nothing lost: the close is its row, queued. (The cache gives up at once
        # and the request makes one connection attempt to the broker.)
        waiting = QuarterClose.objects.get(quarter="2026Q2")
        assert (waiting.state, waiting.sent_at) == ("queued", None)
        print(
            f"\nredis down: registration answered in {took_register:.2f} s, quarter close "
            f"queued in {took_close:.2f} s, not yet sent"
        )

        own_redis.start()
        status, body, _ = site.request("POST", "/api/v1/quarters/2026Q1/close/", token=chief_token)
        assert status == 202, body
        assert queued_tasks(own_redis) == [("scoring.close_quarter", f"('2026Q1', {chief.pk})")]
        # The sweep on beat, a while later, sends the close that waited.
        saved = app.conf.broker_write_url
        app.conf.broker_write_url = own_redis.url
        try:
            later = timezone.now() + REQUEUE_AFTER + timedelta(minutes=1)
            with time_machine.travel(later, tick=False):
                # Both are still queued (no worker here): both are sent again.
                assert tasks.requeue_closes() == 2
        finally:
            app.conf.broker_write_url = saved
        assert queued_tasks(own_redis) == [
            ("scoring.close_quarter", f"('2026Q1', {chief.pk})"),
            ("scoring.close_quarter", f"('2026Q1', {chief.pk})"),
            ("scoring.close_quarter", f"('2026Q2', {chief.pk})"),
        ]
    finally:
        site.stop()


def token_request(site: Site, username: str, password: str):
    """POST /api/v1/auth/token/ as a client would: (status, JSON body, headers)."""
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        site.base + "/api/v1/auth/token/",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers


def test_guessing_is_locked_out_and_readiness_degraded_while_redis_is_down(own_redis):
    """The attack reported: wrong passwords in a row, then the right one, with Redis (the
    cache that allauth's limits lived in) stopped. The count is in PostgreSQL: it holds."""
    import urllib.error

    partner_token()  # the "burst" login, with the site's password hasher
    site = Site(
        {"DATABASE_URL": suite_database_url(), "REDIS_URL": own_redis.url, "CONN_MAX_AGE": "0"}
    )
    try:
        status, body, _ = site.request("GET", "/readyz/")
        assert (status, body) == (
            200,
            {"status": "ok", "database": "ok", "cache": "ok", "broker": "ok"},
        )
        own_redis.stop()
        status, body, _ = site.request("GET", "/readyz/")
        assert (status, body) == (
            200,
            {"status": "degraded", "database": "ok", "cache": "down", "broker": "down"},
        )

        answers = [token_request(site, "burst", f"guess{i}")[0] for i in range(30)]
        status, body, headers = token_request(site, "burst", PASSWORD)
        print(f"\nredis down: 30 wrong passwords answered {answers}; the right one {status}")
        assert answers[:4] == [400] * 4 and set(answers[4:]) == {429}
        assert status == 429 and body["code"] == "throttled" and body["detail"]
        assert headers["Retry-After"] == "900"
        # The portal's sign-in counts in the same place: the right password is refused.
        with pytest.raises(urllib.error.HTTPError) as refused:
            sign_in(site, "burst", PASSWORD)
        assert refused.value.code == 429 and refused.value.headers["Retry-After"] == "900"
        # Only the token partner_token() made: the guesser got none.
        assert ApiToken.objects.filter(user__username="burst").count() == 1
    finally:
        site.stop()
