"""The executive dashboard at scale: 20,000 partners, 2,000,000 deals, against hand-written SQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/prm_bench_dash \\
        .venv/bin/python bench/dashboard.py

Quick run on a smaller book, or again on the book already loaded:

    ... bench/dashboard.py --partners 2000 --deals 200000
    ... bench/dashboard.py --keep

Recreates the throwaway database named in DATABASE_URL and bulk-loads it with the loader
of ``bench/quarter_close.py`` (partners in a pyramid, people and certifications, login
days, accounts and deals over six quarters), closes the last full quarter so that it has
scorecards (and the close's rebates, awards and MDF funds), then measures in this process:

- the server time of ``GET /api/v1/dashboard/?quarter=…`` and of the dashboard page for an
  executive (Django's test client: URL routing, auth, the queries, JSON or template
  rendering), median and p95 of ``--runs`` requests after one warm-up, and the number of
  statements each makes;
- the floor: one hand-written SQL script computing the same figures (one statement per
  section, run back to back on one connection), median of ``--runs``; a few of its
  figures are checked against the JSON's.

Prints facts and whether the targets hold (median < 300 ms, < 30 statements, ≤ 2× the
floor); asserts nothing.
"""

import argparse
import statistics
import sys
import time
from datetime import date

from benchdb import recreate_database

TARGET_MS = 300
TARGET_QUERIES = 30
TARGET_RATIO = 2.0

FLOOR_SQL = [
    # ecosystem
    """SELECT count(*) FILTER (WHERE status = 'active'),
              count(*) FILTER (WHERE started_on BETWEEN %(start)s AND %(end)s
                               AND status <> 'prospect'),
              count(*) FILTER (WHERE started_on < %(start)s AND status <> 'prospect')
       FROM partners_partner""",
    """SELECT count(DISTINCT partner_id) FROM partners_tierchange
       WHERE cause = 'exit' AND changed_at::date BETWEEN %(start)s AND %(end)s""",
    # revenue, this quarter and the one before
    """SELECT coalesce(sum(closed_amount) FILTER (WHERE NOT (direct_conflict
                                  OR compensation_model = 'co_sell')), 0),
              coalesce(sum(closed_amount) FILTER (WHERE direct_conflict
                                  OR compensation_model = 'co_sell'), 0),
              coalesce(sum(partner_credit), 0), count(*), avg(closed_amount)
       FROM deals_deal WHERE status = 'won' AND closed_on BETWEEN %(start)s AND %(end)s""",
    """SELECT coalesce(sum(partner_credit), 0) FROM deals_deal
       WHERE status = 'won' AND closed_on BETWEEN %(prev_start)s AND %(prev_end)s""",
    """SELECT count(*) FILTER (WHERE status = 'won'), count(*),
              count(*) FILTER (WHERE status = 'won' AND direct_conflict),
              count(*) FILTER (WHERE direct_conflict)
       FROM deals_deal WHERE status IN ('won', 'lost')
         AND closed_on BETWEEN %(start)s AND %(end)s""",
    """SELECT coalesce(sum(amount), 0), count(*) FROM deals_deal
       WHERE submitted_at::date <= %(as_of)s AND status <> 'rejected'
         AND (closed_on IS NULL OR closed_on > %(as_of)s)
         AND (expires_on IS NULL OR expires_on >= %(as_of)s)""",
    # by tier: quota and partner credit of the active partners
    """SELECT t.slug, count(*), sum(coalesce(p.annual_quota, t.default_annual_quota)) / 4
       FROM partners_partner p JOIN partners_tier t ON t.id = p.tier_id
       WHERE p.status = 'active' GROUP BY t.slug""",
    """SELECT t.slug, sum(d.partner_credit) FROM deals_deal d
       JOIN partners_partner p ON p.id = d.partner_id JOIN partners_tier t ON t.id = p.tier_id
       WHERE p.status = 'active' AND d.status = 'won'
         AND d.closed_on BETWEEN %(start)s AND %(end)s GROUP BY t.slug""",
    # health
    """SELECT count(*) FILTER (WHERE total >= 60),
              count(*) FILTER (WHERE total >= 40 AND total < 60),
              count(*) FILTER (WHERE total < 40)
       FROM scoring_scorecard WHERE quarter = %(label)s""",
    # enablement
    """SELECT count(*) FILTER (WHERE EXISTS (SELECT 1 FROM enablement_certification c
                                 WHERE c.partner_id = p.id AND c.issued_on <= %(end)s
                                   AND c.expires_on > %(end)s)),
              count(*) FILTER (WHERE EXISTS (SELECT 1 FROM enablement_loginday l
                                 WHERE l.partner_id = p.id
                                   AND l.day BETWEEN %(start)s AND %(end)s))
       FROM partners_partner p WHERE p.status = 'active'""",
    """SELECT count(*) FROM enablement_certification
       WHERE issued_on BETWEEN %(start)s AND %(end)s""",
    """SELECT count(*) FROM enablement_trainingcompletion
       WHERE completed_on BETWEEN %(start)s AND %(end)s""",
    # incentives and MDF
    """SELECT coalesce(sum(amount) FILTER (WHERE kind = 'spiff' AND status = 'paid'
                                 AND paid_at::date BETWEEN %(start)s AND %(end)s), 0),
              coalesce(sum(amount) FILTER (WHERE kind = 'rebate' AND quarter = %(label)s
                                 AND status IN ('approved', 'paid')), 0),
              coalesce(sum(amount) FILTER (WHERE quarter = %(label)s AND status <> 'void'), 0)
       FROM incentives_ledgerentry""",
    """SELECT coalesce(sum(amount), 0), coalesce(sum(reimbursed), 0), coalesce(sum(reserved), 0)
       FROM incentives_mdffund WHERE fiscal_year = %(year)s""",
    """SELECT coalesce(sum(amount) FILTER (WHERE status IN ('pending', 'approved')), 0),
              coalesce(sum(partner_credit) FILTER (WHERE status = 'won'), 0)
       FROM deals_deal WHERE mdf_request_id IS NOT NULL""",
    # top partners, the series, concentration and managers' load
    """SELECT partner_id, sum(partner_credit) AS revenue, count(*) FROM deals_deal
       WHERE status = 'won' AND closed_on BETWEEN %(start)s AND %(end)s
       GROUP BY partner_id ORDER BY revenue DESC, partner_id LIMIT 10""",
    """SELECT date_trunc('quarter', closed_on), sum(partner_credit), count(*) FROM deals_deal
       WHERE status = 'won' AND closed_on BETWEEN %(series_start)s AND %(end)s GROUP BY 1""",
    """SELECT sum(revenue) FILTER (WHERE rank <= %(top_n)s), sum(revenue) FROM (
         SELECT sum(partner_credit) AS revenue,
                row_number() OVER (ORDER BY sum(partner_credit) DESC) AS rank
         FROM deals_deal WHERE status = 'won'
           AND closed_on BETWEEN %(year_start)s AND %(end)s GROUP BY partner_id) r""",
    """SELECT channel_manager_id, count(*) FROM partners_partner
       WHERE status = 'active' GROUP BY channel_manager_id""",
]


# The deal statements again, reading the per-partner quarter summaries the dashboard reads
# for an ended quarter (same positions in FLOOR_SQL).
SUMMARY_SQL = {
    2: """SELECT sum(sourced_amount), sum(assisted_amount), sum(won_credit), sum(won_deals),
                 sum(won_amount) / nullif(sum(won_priced), 0)
          FROM deals_dealquarter WHERE quarter = %(label)s""",
    3: """SELECT coalesce(sum(won_credit), 0) FROM deals_dealquarter
          WHERE quarter = %(prev_label)s""",
    4: """SELECT sum(won_deals), sum(won_deals + lost_deals), sum(won_direct), sum(closed_direct)
          FROM deals_dealquarter WHERE quarter = %(label)s""",
    5: """SELECT coalesce(sum(pipeline_amount), 0), sum(pipeline_deals) FROM deals_dealquarter
          WHERE quarter = %(label)s""",
    7: """SELECT t.slug, sum(s.won_credit) FROM deals_dealquarter s
          JOIN partners_partner p ON p.id = s.partner_id JOIN partners_tier t ON t.id = p.tier_id
          WHERE p.status = 'active' AND s.quarter = %(label)s GROUP BY t.slug""",
    15: """SELECT partner_id, won_credit, won_deals FROM deals_dealquarter
           WHERE quarter = %(label)s AND won_deals > 0
           ORDER BY won_credit DESC, partner_id LIMIT 10""",
    16: """SELECT quarter, sum(won_credit), sum(won_deals) FROM deals_dealquarter
           WHERE quarter = ANY(%(series)s) GROUP BY quarter""",
    17: """SELECT sum(year_credit) FILTER (WHERE rank <= %(top_n)s), sum(year_credit) FROM (
             SELECT year_credit, row_number() OVER (ORDER BY year_credit DESC) AS rank
             FROM deals_dealquarter WHERE quarter = %(label)s AND year_credit > 0) r""",
}


def floor_statements(summarised: bool) -> list[str]:
    if not summarised:
        return FLOOR_SQL
    return [SUMMARY_SQL.get(i, sql) for i, sql in enumerate(FLOOR_SQL)]


def floor_params(quarter, today: date, active: int) -> dict:
    previous = quarter.previous()
    return {
        "start": quarter.start,
        "end": quarter.end,
        "prev_start": previous.start,
        "prev_end": previous.end,
        "as_of": min(today, quarter.end),
        "label": quarter.label,
        "prev_label": previous.label,
        "series": [q.label for q in quarter.trailing(6)],
        "year": quarter.year,
        "series_start": quarter.trailing(6)[0].start,
        "year_start": quarter.trailing(4)[0].start,
        "last_four": [q.label for q in quarter.trailing(4)],
        "top_n": max(1, round(active * 0.2)),
    }


def run_floor(params: dict, statements: list[str]) -> tuple[float, list]:
    from django.db import connection

    results = []
    start = time.perf_counter()
    with connection.cursor() as cur:
        for sql in statements:
            cur.execute(sql, params)
            results.append(cur.fetchall())
    return time.perf_counter() - start, results


def timed_get(client, url: str) -> tuple[float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        response = client.get(url)
        seconds = time.perf_counter() - start
    return seconds, response.status_code, len(queries.captured_queries)


def summary(label: str, samples: list[float], statements: int) -> float:
    ms = sorted(s * 1000 for s in samples)
    median = statistics.median(ms)
    p95 = ms[min(len(ms) - 1, round(len(ms) * 0.95) - 1)]
    print(f"{label:<28} median {median:7.1f} ms   p95 {p95:7.1f} ms   {statements} statements")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=20_000)
    parser.add_argument("--deals", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="reuse the loaded database")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)

    if not args.keep:
        recreate_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from deals.services import deal_quarters_summarize
    from partners.models import Partner, User
    from prm.quarters import Quarter
    from prm.roles import Role
    from scoring.dashboard import summarized
    from scoring.services.close import quarter_close

    today = date.today()
    quarter = Quarter.containing(today).previous()
    if not args.keep:
        from quarter_close import describe, load

        connection.close()
        call_command("migrate", verbosity=0)
        start = time.perf_counter()
        load(args, quarter)
        facts = describe(quarter)
        print(
            f"bulk load: {time.perf_counter() - start:.1f} s for {args.partners:,} partners, "
            f"{args.deals:,} deals; deals_deal {facts['deal_size']}"
        )
        start = time.perf_counter()
        quarter_close(quarter=quarter.label, notify=False)
        print(f"quarter close of {quarter.label}: {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        labels = deal_quarters_summarize(today=today)
        print(
            f"per-partner deal summaries of {len(labels)} ended quarters (the nightly job): "
            f"{time.perf_counter() - start:.1f} s"
        )
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
    executive, _ = User.objects.get_or_create(
        username="bench-exec", defaults={"role": Role.EXECUTIVE, "is_staff": True}
    )
    client = Client()
    client.force_login(executive)
    partners = Partner.objects.count()
    active = Partner.objects.filter(status="active").count()
    print(f"book: {partners:,} partners ({active:,} active); dashboard of {quarter.label}")

    summarised = summarized(quarter.trailing(6), today=today) == {
        q.label for q in quarter.trailing(6)
    }
    print(f"{quarter.label} and the five quarters before it summarised: {summarised}")
    results = {}
    for label, url in (
        ("GET /api/v1/dashboard/", f"/api/v1/dashboard/?quarter={quarter.label}"),
        ("GET /executive/ (page)", f"/executive/?quarter={quarter.label}"),
        ("open quarter JSON", f"/api/v1/dashboard/?quarter={quarter.next().label}"),
    ):
        timed_get(client, url)  # warm-up
        samples, statements = [], 0
        for _ in range(args.runs):
            seconds, status, statements = timed_get(client, url)
            assert status == 200, status
            samples.append(seconds)
        results[label] = (summary(label, samples, statements), statements)

    params = floor_params(quarter, today, active)
    statements = floor_statements(summarised)
    run_floor(params, statements)  # warm-up
    floor_samples, floor_rows = [], []
    for _ in range(args.runs):
        seconds, floor_rows = run_floor(params, statements)
        floor_samples.append(seconds)
    floor_ms = summary("floor (hand-written SQL)", floor_samples, len(statements))
    # The figures checked below come from the deals themselves, not from the summaries.
    deal_seconds, live_rows = run_floor(params, FLOOR_SQL)
    print(f"{'the same SQL over the deals':<28} once    {deal_seconds * 1000:7.1f} ms")
    current = quarter.next()
    open_summed = current.label in summarized([current], today=today)
    open_params = floor_params(current, today, active)
    open_statements = floor_statements(open_summed)
    run_floor(open_params, open_statements)
    open_samples = [run_floor(open_params, open_statements)[0] for _ in range(args.runs)]
    open_floor_ms = summary("open quarter floor", open_samples, len(open_statements))

    body = client.get(f"/api/v1/dashboard/?quarter={quarter.label}").json()
    checks = {
        "active partners": (body["ecosystem"]["active_partners"], live_rows[0][0][0]),
        "partner credit": (body["revenue"]["partner_credit"], f"{live_rows[2][0][2]:.2f}"),
        "deals won": (body["revenue"]["deals_won"], live_rows[2][0][3]),
        "pipeline": (body["revenue"]["pipeline"], f"{live_rows[5][0][0]:.2f}"),
        "on target": (body["health"]["on_target"], live_rows[8][0][0]),
    }
    for name, (ours, floors) in checks.items():
        print(
            f"  check {name:<16} dashboard {ours!s:>18}   SQL {floors!s:>18}   "
            f"{'same' if str(ours) == str(floors) else 'DIFFERENT'}"
        )

    api_ms, api_statements = results["GET /api/v1/dashboard/"]
    page_ms, page_statements = results["GET /executive/ (page)"]
    ratio = api_ms / floor_ms if floor_ms else float("inf")
    print()
    print(
        f"targets: JSON median {api_ms:.0f} ms < {TARGET_MS} ms: {api_ms < TARGET_MS}; "
        f"page median {page_ms:.0f} ms < {TARGET_MS} ms: {page_ms < TARGET_MS}"
    )
    print(
        f"         statements {api_statements} / {page_statements} < {TARGET_QUERIES}: "
        f"{max(api_statements, page_statements) < TARGET_QUERIES}"
    )
    print(f"         JSON ÷ floor = {ratio:.2f}× ≤ {TARGET_RATIO}×: {ratio <= TARGET_RATIO}")
    open_ms = results["open quarter JSON"][0]
    print(
        f"open quarter {current.label} ({'summed today' if open_summed else 'from the deals'}): "
        f"JSON {open_ms:.0f} ms, "
        f"floor {open_floor_ms:.0f} ms, ÷ {open_ms / open_floor_ms:.2f}×"
    )


if __name__ == "__main__":
    main()
