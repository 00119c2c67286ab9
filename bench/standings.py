"""How the tier-standing reads scale: manager home and the partner list at 2 sizes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/prm_bench .venv/bin/python bench/standings.py

Builds the demo program at two sizes in a throwaway PostgreSQL database (dropped and
recreated), then times the set-wise standing query (every partner's revenue, certified
reps, pipeline and wins) and the API partner list. Prints figures and the ratio of time
per partner between the sizes: a ratio near 1 means the cost grows linearly, with no
per-row queries.
"""

import os
import time

from benchdb import recreate_database


def measure(partners: int) -> dict:
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone
    from rest_framework.test import APIClient

    from partners.models import Partner, User
    from scoring.queries import standings

    connection.close()
    recreate_database()
    call_command("migrate", verbosity=0)
    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", partners=partners, seed=1, stdout=quiet)
    today = timezone.localdate()
    runs = 5
    reset_queries()  # the query log is a bounded deque, full after seeding
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        for _ in range(runs):
            rows = standings(Partner.objects.all(), today)
        elapsed = (time.perf_counter() - start) / runs
    # Read the count now: every request below clears the connection's query log.
    query_count = len(queries.captured_queries) // runs
    client = APIClient()
    client.force_authenticate(User.objects.get(username="chief"))
    start = time.perf_counter()
    for _ in range(runs):
        client.get("/api/v1/partners/?limit=100")
    api_elapsed = (time.perf_counter() - start) / runs
    return {
        "partners": len(rows),
        "standings_ms": elapsed * 1000,
        "queries": query_count,
        "api_list_ms": api_elapsed * 1000,
    }


def main() -> None:
    recreate_database()  # so that django.setup() finds the database
    import django

    django.setup()
    small, large = measure(100), measure(1000)
    for row in (small, large):
        print(
            f"{row['partners']:>6} partners: standings {row['standings_ms']:8.1f} ms "
            f"({row['queries']} queries), API partner list (100 rows) {row['api_list_ms']:6.1f} ms"
        )
    per_small = small["standings_ms"] / small["partners"]
    per_large = large["standings_ms"] / large["partners"]
    print(f"time per partner, large/small: {per_large / per_small:.2f}")
    print(f"queries, large/small: {large['queries'] / small['queries']:.2f}")


if __name__ == "__main__":
    main()
