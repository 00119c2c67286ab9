"""Where a drawn portal deal list spends its time, in-process (no HTTP server, no wrk):
the whole request through the middleware, the constant view (``/healthz/``), and the
parts of the page one by one, each the best of three rounds of ``--requests`` calls.

Runs on the database ``bench/load.py`` builds (1,000,000 deals; build it first):

    .venv/bin/python bench/deal_list.py   # DATABASE_URL defaults to prm_bench_load

The list is that of the partner with the most deals, as its admin, page 1 (25 lines).
Prints milliseconds per call and the share of the whole request; asserts nothing.
"""

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/prm_bench_load")

import benchdb  # noqa: E402  (the project on sys.path)

# As gunicorn serves it in bench/load.py: the production settings (cached templates,
# hashed static files collected into a temporary folder, JSON logs at WARNING).
STATIC_ROOT = tempfile.mkdtemp(prefix="prm-static-")
os.environ.update(
    DJANGO_SETTINGS_MODULE="prm.settings.production",
    SECRET_KEY=secrets.token_urlsafe(50),
    ALLOWED_HOSTS="testserver,127.0.0.1",
    SECURE_SSL_REDIRECT="false",
    SECURE_COOKIES="false",
    SECURE_HSTS_SECONDS="0",
    STATIC_ROOT=STATIC_ROOT,
    REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/3"),
    CELERY_BROKER_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/3"),
    EMAIL_URL="dummymail://",
    LOG_LEVEL="WARNING",
)


def best_ms(call, requests: int) -> float:
    call()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(requests):
            call()
        best = min(best, (time.perf_counter() - start) / requests * 1000)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=benchdb.ROOT,
        check=True,
    )
    import django

    django.setup()
    from django.db.models import Count
    from django.template.loader import render_to_string
    from django.test import Client

    from deals.models import Deal, DealStatus
    from deals.queries import deal_list_for
    from deals.views import _rows
    from partners.models import PartnerUser
    from partners.queries import unread_notice_count
    from prm.pages import page_of

    busiest = Deal.objects.values("partner_id").annotate(n=Count("id")).order_by("-n").first()
    person = (
        PartnerUser.objects.select_related("user")
        .filter(partner_id=busiest["partner_id"], role="admin")
        .order_by("pk")
        .first()
    )
    user = person.user
    client = Client()
    client.force_login(user)
    request = client.get("/portal/deals/").wsgi_request
    page = page_of(deal_list_for(user), 1)
    rows = _rows(page)

    def render(lines):
        return render_to_string(
            "deals/list.html",
            {"page": page, "rows": lines, "status": "", "statuses": DealStatus.choices},
            request=request,
        )

    parts = [
        ("GET /portal/deals/ (the whole request)", lambda: client.get("/portal/deals/")),
        ("GET /healthz/ (the constant view)", lambda: client.get("/healthz/")),
        ("the page's query (26 rows)", lambda: list(page_of(deal_list_for(user), 1))),
        ("the 25 lines formatted", lambda: _rows(page)),
        ("the template with its 25 lines", lambda: render(rows)),
        ("the template without lines (layout)", lambda: render([])),
        ("the unread-notice badge's count", lambda: unread_notice_count(user, person.partner_id)),
    ]
    print(f"deal list of partner {busiest['partner_id']} ({busiest['n']:,} deals), as {user}")
    whole = None
    for label, call in parts:
        ms = best_ms(call, args.requests)
        whole = whole or ms
        print(f"  {label:42s} {ms:6.2f} ms  {ms / whole:5.0%}")
    shutil.rmtree(STATIC_ROOT, ignore_errors=True)


if __name__ == "__main__":
    main()
