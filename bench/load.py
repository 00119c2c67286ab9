"""Load: the portal deal list, a registration POST and the dashboard JSON, under wrk, on
gunicorn, with the demo data scaled to 1,000,000 deals.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/prm_bench_load .venv/bin/python bench/load.py

Again on the database already built (skips the 3–4 minute load; migrates it to the
code's migrations first), three rounds:

    ... bench/load.py --keep --runs 3

Needs ``wrk`` (Debian: ``apt-get install wrk``; the script says so and stops if it is
missing). Everything stays on the loopback interface and every wrk run has a fixed
duration (``--duration``, 20 s by default, after a 3 s warm-up).

Build (unless ``--keep``): recreates the throwaway database named in DATABASE_URL (default
``prm_bench_load``; it is dropped), migrates, loads the demo (``seed_demo``, 250 partners),
then bulk-loads customer accounts, deal registrations and CRM leads with the set-based SQL
of ``bench/registration.py`` until there are ``--deals`` deals (1,000,000), VACUUM ANALYZE.

Serve: ``collectstatic`` into a temporary folder, then gunicorn (``--workers`` sync
workers, 4 by default) on 127.0.0.1 with the production settings (plain HTTP: SSL
redirect, secure cookies and HSTS off; Redis at ``--redis`` for cache and broker).

Measure, each round, with ``wrk -t2 -c{--users}`` (32 by default):

- ceiling: ``GET /healthz/``, a constant through the whole middleware stack, no database;
- deal list: ``GET /portal/deals/`` (page 1 of 25, newest first) for the admin user of the
  partner with the most deals, signed in with a session cookie, drawn by the view every
  time;
- list + 1 in 10 registering: the same list, but every tenth request is a registration
  for the same partner;
- registration: ``POST /portal/deals/new/`` (the portal form, session cookie and CSRF
  token), a new customer domain each time; a 302 to the new deal is a success;
- dashboard: ``GET /api/v1/dashboard/`` (this quarter) for the executive, with a token,
  at ``--dashboard-users`` connections (4): each answer aggregates the whole book.

Any answer other than the expected status (200, or 302 for the POST), and any socket error
or timeout, counts as an error. Prints throughput, p50/p95/p99 latency and errors for each,
per round and the median over rounds, and the ratio of the deal list's throughput to the
ceiling's (the mean of the ceiling measured just before and just after the list).
Targets: deal list >= 15% of the ceiling, p99 < 300 ms, 0 errors. Asserts nothing.
"""

import argparse
import http.cookiejar
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import date, timedelta

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prm_bench_load")

from benchdb import ROOT, URL, recreate_database, resum_quarters  # noqa: E402

PASSWORD = "bench-Load-2026"
TARGET_RATIO = 0.15
TARGET_P99_MS = 300.0

# ---------------------------------------------------------------- build


def build(target_deals: int) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from registration import load

    start = time.perf_counter()
    recreate_database()
    call_command("migrate", verbosity=0)
    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", stdout=quiet)
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM deals_deal")
        existing = cur.fetchone()[0]
    seeded = time.perf_counter()
    extra = max(target_deals - existing, 0)
    facts = load(accounts=extra, deals=extra, leads=extra // 10)
    print(f"quarter sums written again over the loaded deals: {resum_quarters():.0f} s")
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    print(
        f"built in {time.perf_counter() - start:.0f} s (demo {seeded - start:.0f} s): "
        f"{facts['deals']:,} deals, {facts['accounts']:,} accounts, {facts['leads']:,} leads"
    )


def prepare_users() -> dict:
    """The admin of the partner with the most deals (the heaviest deal list), and a token
    for the executive."""
    import django

    django.setup()
    from django.db import connection

    from partners.models import ApiToken, PartnerUser, User

    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT d.partner_id, count(*) FROM deals_deal d
            JOIN partners_partner p ON p.id = d.partner_id
            WHERE p.status = 'active' AND p.agreement_signed_on IS NOT NULL
              AND EXISTS (SELECT 1 FROM partners_partneruser u
                          WHERE u.partner_id = p.id AND u.role = 'admin')
            GROUP BY 1 ORDER BY 2 DESC LIMIT 1
            """
        )
        partner_id, deals = cur.fetchone()
        cur.execute("SELECT count(*) FROM deals_deal")
        total = cur.fetchone()[0]
    person = (
        PartnerUser.objects.select_related("user", "partner")
        .filter(partner_id=partner_id, role="admin")
        .order_by("pk")
        .first()
    )
    person.user.set_password(PASSWORD)
    person.user.is_active = True
    person.user.save()
    executive = User.objects.get(username="exec")
    # Made here rather than asked for: the bench measures the dashboard, not the sign-in.
    _, token = ApiToken.objects.create(user=executive, client="load bench")
    connection.close()
    return {
        "username": person.user.username,
        "partner": person.partner.name,
        "partner_deals": deals,
        "total_deals": total,
        "token": token,
    }


# ---------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(static_root: str, redis: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DJANGO_SETTINGS_MODULE="prm.settings.production",
        DATABASE_URL=URL,
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        SECURE_COOKIES="false",
        SECURE_HSTS_SECONDS="0",
        STATIC_ROOT=static_root,
        REDIS_URL=redis,
        CELERY_BROKER_URL=redis,
        EMAIL_URL="dummymail://",
        LOG_LEVEL="WARNING",
    )
    return env


def start_server(env: dict, port: int, workers: int, threads: int) -> subprocess.Popen:
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or "gunicorn"
    command = [
        gunicorn,
        "prm.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--backlog",
        "256",
    ]
    if threads > 1:
        command += ["--worker-class", "gthread", "--threads", str(threads)]
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz/", timeout=5):
                    pass
                time.sleep(3)  # every worker booted, not just the first
                return server
            except OSError:  # refused while booting, or a timeout
                time.sleep(0.5)
        raise SystemExit("gunicorn did not answer within 120 s")
    except BaseException:
        stop_server(server)
        raise


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def sign_in(base: str, username: str) -> dict:
    """A real sign-in through the portal's form: the session and CSRF cookies."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/auth/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode(
        {"login": username, "password": PASSWORD, "csrfmiddlewaretoken": token}
    ).encode()
    final = opener.open(f"{base}/auth/login/", data=body)
    if "/auth/login/" in final.geturl():
        raise SystemExit(f"could not sign in as {username}")
    cookies = {cookie.name: cookie.value for cookie in jar}
    return {"sessionid": cookies["sessionid"], "csrftoken": cookies["csrftoken"]}


# ---------------------------------------------------------------- wrk

LUA_COMMON = """
OK = OK or {[EXPECTED] = true}
local threads = {}
local next_id = 0
setup = function(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
  table.insert(threads, thread)
end
bad = 0
response = function(status, headers, body)
  if not OK[status] then bad = bad + 1 end
end
done = function(summary, latency, requests)
  local wrong = 0
  for _, t in ipairs(threads) do wrong = wrong + t:get("bad") end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "p50": %d, "p95": %d, "p99": %d, '
    .. '"max": %d, "socket": %d, "timeout": %d, "wrong_status": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.connect + e.read + e.write, e.timeout, wrong))
end
"""

LUA_GET = """
EXPECTED = 200
wrk.method = "GET"
wrk.headers["Cookie"] = "{cookie}"
{extra}
"""

LUA_POST = """
EXPECTED = 302
counter = 0
run = ""
init = function(args) run = args[1] end
request = function()
  counter = counter + 1
  local key = string.format("%s-%d-%d", run, id, counter)
  local body = "customer_name=Load+Customer+" .. key
    .. "&customer_domain=load-" .. key .. ".example"
    .. "&amount=25000.00&expected_close={close}&deal_type=new_logo"
    .. "&compensation_model=reseller&contract_years=1&notes="
  return wrk.format("POST", "/portal/deals/new/", {{
    ["Cookie"] = "{cookie}",
    ["X-CSRFToken"] = "{csrf}",
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }}, body)
end
"""

# The deal list with one registration of the same partner's in every ``{every}`` requests.
LUA_MIX = """
OK = {{[200] = true, [302] = true}}
counter = 0
run = ""
init = function(args) run = args[1] end
request = function()
  counter = counter + 1
  if counter % {every} ~= 0 then
    return wrk.format("GET", "/portal/deals/", {{["Cookie"] = "{cookie}"}})
  end
  local key = string.format("%s-%d-%d", run, id, counter)
  local body = "customer_name=Mix+Customer+" .. key
    .. "&customer_domain=mix-" .. key .. ".example"
    .. "&amount=25000.00&expected_close={close}&deal_type=new_logo"
    .. "&compensation_model=reseller&contract_years=1&notes="
  return wrk.format("POST", "/portal/deals/new/", {{
    ["Cookie"] = "{cookie}",
    ["X-CSRFToken"] = "{csrf}",
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }}, body)
end
"""


def lua_script(folder: str, name: str, body: str) -> str:
    path = os.path.join(folder, f"{name}.lua")
    with open(path, "w") as handle:
        handle.write(body + LUA_COMMON)
    return path


def run_wrk(url: str, script: str, *, users: int, duration: int) -> dict:
    """One bounded wrk run; a fresh run key keeps the POST's customers new every time."""
    result = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{users}",
            f"-d{duration}s",
            "--timeout",
            "30s",
            "-s",
            script,
            url,
            "--",
            secrets.token_hex(4),
        ],
        capture_output=True,
        text=True,
        timeout=duration + 60,
    )
    line = next((x for x in result.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no summary:\n{result.stdout}\n{result.stderr}")
    raw = json.loads(line[len("WRKJSON ") :])
    seconds = raw["duration_us"] / 1e6
    return {
        "rps": raw["requests"] / seconds,
        "requests": raw["requests"],
        "p50": raw["p50"] / 1000,
        "p95": raw["p95"] / 1000,
        "p99": raw["p99"] / 1000,
        "errors": raw["socket"] + raw["timeout"] + raw["wrong_status"],
    }


def smoke(base: str, cookies: dict, token: str, close: str) -> None:
    """One request of each kind, checked, before anything is timed."""
    cookie = f"sessionid={cookies['sessionid']}; csrftoken={cookies['csrftoken']}"
    page = urllib.request.urlopen(
        urllib.request.Request(f"{base}/portal/deals/", headers={"Cookie": cookie})
    )
    if 'data-testid="deals"' not in page.read().decode():
        raise SystemExit("the deal list did not render")
    body = urllib.parse.urlencode(
        {
            "customer_name": "Smoke Test Customer",
            "customer_domain": f"smoke-{secrets.token_hex(4)}.example",
            "amount": "25000.00",
            "expected_close": close,
            "deal_type": "new_logo",
            "compensation_model": "reseller",
            "contract_years": "1",
        }
    ).encode()
    request = urllib.request.Request(
        f"{base}/portal/deals/new/",
        data=body,
        headers={"Cookie": cookie, "X-CSRFToken": cookies["csrftoken"]},
    )
    try:
        urllib.request.build_opener(NoRedirect).open(request)
        raise SystemExit("the registration did not redirect to the new deal")
    except urllib.error.HTTPError as exc:
        if exc.code != 302 or not re.search(r"/portal/deals/\d+/$", exc.headers["Location"]):
            raise SystemExit(f"registration answered {exc.code}") from exc
    urllib.request.urlopen(
        urllib.request.Request(
            f"{base}/api/v1/dashboard/", headers={"Authorization": f"Token {token}"}
        )
    ).read()


# ---------------------------------------------------------------- report


def fmt(name: str, r: dict) -> str:
    return (
        f"  {name:<28} {r['rps']:8.1f} req/s   p50 {r['p50']:7.1f} ms   p95 {r['p95']:7.1f} ms"
        f"   p99 {r['p99']:7.1f} ms   errors {r['errors']}"
    )


def ceiling_of(results: dict) -> float:
    """The round's ceiling: the mean of the runs just before and just after the list."""
    return (results["ceiling (/healthz/)"]["rps"] + results["ceiling, again"]["rps"]) / 2


def median_of(rounds: list[dict], name: str) -> dict:
    return {
        key: statistics.median(r[name][key] for r in rounds) for key in ("rps", "p50", "p95", "p99")
    } | {"errors": sum(r[name]["errors"] for r in rounds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="reuse the database already built")
    parser.add_argument("--runs", type=int, default=3, help="rounds of the six measurements")
    parser.add_argument("--duration", type=int, default=20, help="seconds per wrk run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per endpoint")
    parser.add_argument("--users", type=int, default=32, help="concurrent connections")
    parser.add_argument(
        "--dashboard-users",
        type=int,
        default=4,
        help="concurrent connections for the dashboard (seconds per answer at this scale)",
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (gthread)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()

    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")
    if urllib.parse.urlsplit(URL).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("the bench database must be on this machine (loopback)")

    if args.keep:  # the database already built, brought up to the code's migrations
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    else:
        build(args.deals)
    users = prepare_users()
    print(
        f"data: {users['total_deals']:,} deals; deal list of {users['partner']} "
        f"({users['partner_deals']:,} deals) as {users['username']}"
    )

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    close = (date.today() + timedelta(days=60)).isoformat()
    with tempfile.TemporaryDirectory(prefix="prm-load-") as folder:
        env = server_env(os.path.join(folder, "static"), args.redis)
        server = start_server(env, port, args.workers, args.threads)
        try:
            cookies = sign_in(base, users["username"])
            smoke(base, cookies, users["token"], close)
            cookie = f"sessionid={cookies['sessionid']}; csrftoken={cookies['csrftoken']}"
            scripts = {
                "ceiling (/healthz/)": (
                    base,
                    "/healthz/",
                    lua_script(folder, "ceiling", LUA_GET.format(cookie="", extra="")),
                    args.users,
                ),
                "deal list": (
                    base,
                    "/portal/deals/",
                    lua_script(folder, "deals", LUA_GET.format(cookie=cookie, extra="")),
                    args.users,
                ),
                # The ceiling again right after the list: on a machine whose speed drifts,
                # the list is compared with the mean of the ceilings either side of it.
                "ceiling, again": (
                    base,
                    "/healthz/",
                    lua_script(folder, "ceiling", LUA_GET.format(cookie="", extra="")),
                    args.users,
                ),
                "list + 1 in 10 registering": (
                    base,
                    "/portal/deals/",
                    lua_script(
                        folder,
                        "mix",
                        LUA_MIX.format(
                            every=10, close=close, cookie=cookie, csrf=cookies["csrftoken"]
                        ),
                    ),
                    args.users,
                ),
                "registration POST": (
                    base,
                    "/portal/deals/new/",
                    lua_script(
                        folder,
                        "register",
                        LUA_POST.format(
                            close=close,
                            cookie=cookie,
                            csrf=cookies["csrftoken"],
                        ),
                    ),
                    args.users,
                ),
                "dashboard JSON": (
                    base,
                    "/api/v1/dashboard/",
                    lua_script(
                        folder,
                        "dashboard",
                        LUA_GET.format(
                            cookie="",
                            extra=f'wrk.headers["Authorization"] = "Token {users["token"]}"',
                        ),
                    ),
                    args.dashboard_users,
                ),
            }
            print(
                f"gunicorn: {args.workers} workers x {args.threads} thread(s); wrk -t2 "
                f"-c{args.users} (dashboard -c{args.dashboard_users}), {args.duration} s per run "
                f"after {args.warmup} s warm-up; "
                f"{os.cpu_count()} cores shared with PostgreSQL, Redis and wrk"
            )
            rounds = []
            for n in range(args.runs):
                results = {}
                for name, (site, path, script, users_n) in scripts.items():
                    if args.warmup:
                        run_wrk(site + path, script, users=users_n, duration=args.warmup)
                    results[name] = run_wrk(
                        site + path, script, users=users_n, duration=args.duration
                    )
                rounds.append(results)
                ceiling = ceiling_of(results)
                ratio = results["deal list"]["rps"] / ceiling
                print(f"round {n + 1}:")
                for name, r in results.items():
                    print(fmt(name, r))
                print(f"  deal list / ceiling: {ratio:.0%}")
                mixed = results["list + 1 in 10 registering"]["rps"]
                print(f"  list + 1 in 10 registering / ceiling: {mixed / ceiling:.0%}")
        finally:
            stop_server(server)

    print(f"median of {len(rounds)} round(s):")
    medians = {name: median_of(rounds, name) for name in rounds[0]}
    for name, r in medians.items():
        print(fmt(name, r))
    ratios = [r["deal list"]["rps"] / ceiling_of(r) for r in rounds]
    ratio = statistics.median(ratios)
    deals = medians["deal list"]
    print("targets (deal list):")
    print(
        f"  throughput >= {TARGET_RATIO:.0%} of the ceiling: {ratio:.0%} "
        f"({', '.join(f'{x:.0%}' for x in ratios)}) {'yes' if ratio >= TARGET_RATIO else 'NO'}"
    )
    print(
        f"  p99 < {TARGET_P99_MS:g} ms at {args.users} users: {deals['p99']:.1f} ms "
        f"{'yes' if deals['p99'] < TARGET_P99_MS else 'NO'}"
    )
    errors = sum(r["errors"] for r in medians.values())
    print(f"  0 errors (every run, all rounds): {errors} {'yes' if errors == 0 else 'NO'}")


if __name__ == "__main__":
    main()
