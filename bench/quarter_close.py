"""The quarter close at scale: 20,000 partners, 2,000,000 deals, against a hand-written floor.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/prm_bench \\
        .venv/bin/python bench/quarter_close.py

Quick run on a smaller book:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/prm_bench \\
        .venv/bin/python bench/quarter_close.py --partners 2000 --deals 200000

``--save-copy prm_bench_loaded`` keeps a copy of the loaded book, and ``--from-copy
prm_bench_loaded`` starts from it instead of loading (the book is dated from today: use
the copy the same day).

Recreates the throwaway PostgreSQL database named in DATABASE_URL (dropped and created),
migrates it (which installs the default program, its four tiers and the 'demo'
certification type), then bulk-loads with set-based SQL (INSERT ... SELECT FROM
generate_series; secondary indexes dropped during the load and rebuilt after it, exactly
as the migrations define them; then VACUUM ANALYZE):

- channel managers, and active partners across the four tiers as a pyramid (50/30/15/5 %),
  each with a channel manager, a signed agreement and a start more than a year ago;
- 3-6 people per partner (users with an unusable password, memberships); about 3 % of
  them deactivated and 2 % moved to another partner, keeping certifications they earned
  for the first one;
- customer accounts (half as many as deals) and deal registrations spread over the last
  six quarters, ids in submission order; only an account's last registration may be open
  (pending within its 48 h, approved within its 90 days), so the partial unique index "one
  open registration per account" holds; won deals carry closed_on, closed_amount and
  partner credit, about a third of them a CSAT answer; products (some strategic) on every
  deal, a quarter of the deals with two;
- 'demo' certifications (current, lapsed and renewed, some issued after the quarter);
  portal login days, training completions and event attendances from the first day of
  the closed quarter to yesterday;
- scorecards for the three quarters before the closed one (the history the tier decision
  reads).

It then closes the last full quarter before today with ``scoring.services.close.quarter_close``
three times: (1) the first close — wall time, its timings, the SQL it ran (the query count
from CaptureQueriesContext, plus every statement's time from an execute wrapper, the
slowest listed), the process's peak RSS before and after, and a breakdown by step (wall
and SQL time of the gathering functions, of the batches scored and written, of the red
flags and of the incentives); (2) a rerun — its time, the same breakdown and whether the
scorecards are unchanged
(a checksum of partner, total, band, decision and tier after); (3) another rerun under
tracemalloc, for the peak of Python allocations (tracemalloc slows Python down, so that
run is not held against the targets). The tables a close writes are VACUUM ANALYZEd
between runs, as autovacuum would. It EXPLAIN ANALYZEs the slowest SELECT of the first
close, then times ONE hand-written SQL statement (the floor: one pass over deals plus the
enablement tables) computing every active partner's scorecard inputs on the same data,
checks them against the inputs stored on the scorecards, times the what-if of a draft
version (gold's floor 10% lower) on the quarter just closed, and prints whether the
targets hold: close <= 60 s, <= 4x the floor, memory < 1 GiB, what-if <= 2x the close.
Prints facts; asserts nothing.
"""

import argparse
import os
import re
import resource
import statistics
import sys
import threading
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal

from benchdb import drop_secondary_indexes, recreate_database, save_database

CLOSE_TARGET_S = 60.0
FLOOR_RATIO_TARGET = 4.0
WHAT_IF_RATIO_TARGET = 2.0  # the what-if of a draft, against the real close on the same book
MEMORY_TARGET = 1024**3
GIB = 1024**3
MIB = 1024**2
PEOPLE_SLOTS = 6  # user ids are allotted six per partner; 3-6 of them are used


# ---------------------------------------------------------------- the bulk load


MANAGERS_SQL = """
INSERT INTO partners_user (id, password, last_login, is_superuser, username, first_name,
                           last_name, email, is_staff, is_active, date_joined, role,
                           language)
SELECT %(user_base)s + g, '!', now() - random() * interval '5 days', false,
       'cm' || g, 'Channel', 'Manager ' || g, 'cm' || g || '@vendor.example',
       false, true, now() - interval '1500 days', 'channel_manager', ''
FROM generate_series(1, %(managers)s) AS g
"""

# Partner g: the lowest ids are the top of the pyramid (deals are skewed towards them).
PARTNERS_SQL = """
INSERT INTO partners_partner (id, name, domain, domain_key, status, annual_quota,
                              agreement_signed_on, started_on, latest_score,
                              latest_score_quarter, created_at, channel_manager_id,
                              program_id, tier_id, lead_countries, lead_specialties,
                              lead_languages)
SELECT %(partner_base)s + g,
       'Partner ' || g || ' Systems',
       'partner' || g || '.example',
       'partner' || g || '.example',
       'active',
       CASE WHEN mod(g, 10) = 0 THEN round((20000 + random() * 980000)::numeric, 2) END,
       started + 7 + floor(random() * 30)::int,
       started,
       NULL,
       '',
       started::timestamptz,
       %(user_base)s + 1 + mod(g, %(managers)s),
       %(program)s,
       CASE WHEN g <= %(platinum_upto)s THEN %(tier3)s
            WHEN g <= %(gold_upto)s THEN %(tier2)s
            WHEN g <= %(silver_upto)s THEN %(tier1)s
            ELSE %(tier0)s END,
       '[]'::jsonb, '[]'::jsonb, '[]'::jsonb
FROM (SELECT g, %(today)s::date - 400 - floor(random() * 2500)::int AS started
      FROM generate_series(1, %(partners)s) AS g) AS s
"""

# Every partner's people: 3-6 of them, six user ids allotted per partner. "moved": works
# for the next partner now (certifications earned for partner g stay with partner g).
PEOPLE_CTE = """
people AS (
    SELECT g, s,
           %(people_base)s + (g - 1) * 6 + s AS user_id,
           %(partner_base)s + g AS partner_id,
           CASE WHEN s > 1 AND mod(g * 31 + s * 17, 50) = 0
                THEN %(partner_base)s + 1 + mod(g, %(partners)s)
                ELSE %(partner_base)s + g END AS member_partner_id,
           NOT (s > 1 AND mod(g * 11 + s * 3, 33) = 0) AS is_active,
           CASE WHEN g <= %(platinum_upto)s THEN 3 WHEN g <= %(gold_upto)s THEN 2
                WHEN g <= %(silver_upto)s THEN 1 ELSE 0 END AS rank
    FROM generate_series(1, %(partners)s) AS g, generate_series(1, 6) AS s
    WHERE s <= 3 + mod(g * 7, 4)
)
"""

USERS_SQL = (
    "WITH"
    + PEOPLE_CTE
    + """
INSERT INTO partners_user (id, password, last_login, is_superuser, username, first_name,
                           last_name, email, is_staff, is_active, date_joined, role,
                           language)
SELECT user_id, '!',
       CASE WHEN random() < 0.8 THEN now() - random() * interval '60 days' END,
       false, 'p' || g || '.' || s, 'Person', s || ' of partner ' || g,
       'p' || g || '.' || s || '@partner' || g || '.example', false, is_active,
       now() - interval '400 days' - random() * interval '1000 days', 'partner', ''
FROM people
"""
)

MEMBERS_SQL = (
    "WITH"
    + PEOPLE_CTE
    + """
INSERT INTO partners_partneruser (id, role, created_at, invited_by_id, partner_id, user_id)
SELECT user_id - %(people_base)s,
       CASE WHEN s = 1 THEN 'admin' ELSE 'rep' END,
       now() - interval '300 days' - random() * interval '900 days',
       NULL, member_partner_id, user_id
FROM people
"""
)

# 'demo' certifications: a share of each tier's people hold one (24 months), issued in the
# last ~2.5 years (a few after the quarter's end); some hold an older, lapsed one too.
CERTIFICATIONS_SQL = (
    "WITH"
    + PEOPLE_CTE
    + """,
c AS (
    SELECT user_id, partner_id, rank, random() AS r, random() AS r2,
           least(%(today)s::date - 1, %(q_end)s::date + 45 - floor(random() * 900)::int)
               AS issued
    FROM people
)
INSERT INTO enablement_certification (issued_on, expires_on, created_at, awarded_by_id,
                                      partner_id, user_id, certification_type_id)
SELECT issued, issued + 730, issued::timestamptz, NULL::bigint, partner_id, user_id, %(cert_type)s
FROM c WHERE r < (ARRAY[0.35, 0.5, 0.65, 0.8])[rank + 1]
UNION ALL
SELECT issued - 731 - floor(r2 * 100)::int, issued - 1 - floor(r2 * 100)::int,
       (issued - 731 - floor(r2 * 100)::int)::timestamptz, NULL, partner_id, user_id,
       %(cert_type)s
FROM c WHERE r < (ARRAY[0.35, 0.5, 0.65, 0.8])[rank + 1] AND r2 < 0.3
UNION ALL
SELECT issued - 800, issued - 70, (issued - 800)::timestamptz, NULL, partner_id, user_id,
       %(cert_type)s
FROM c WHERE r >= (ARRAY[0.35, 0.5, 0.65, 0.8])[rank + 1] AND r2 < 0.15
"""
)

# From the closed quarter's first day to yesterday; each person logs in on 0-15 % of days.
LOGIN_DAYS_SQL = """
INSERT INTO enablement_loginday (day, partner_id, user_id)
SELECT d::date, m.partner_id, m.user_id
FROM partners_partneruser m
CROSS JOIN generate_series(%(q_start)s::date, %(today)s::date - 1, interval '1 day') AS d
WHERE random() < mod(m.user_id * 7, 10) / 66.0
"""

TRAININGS_SQL = """
INSERT INTO enablement_trainingcompletion (course, completed_on, partner_id, recorded_by_id,
                                           user_id)
SELECT 'Course ' || c, %(q_start)s::date + floor(random() * %(window_days)s)::int,
       m.partner_id, NULL, m.user_id
FROM partners_partneruser m, generate_series(1, 4) AS c
WHERE random() < 0.25
"""

EVENTS_SQL = """
INSERT INTO enablement_eventattendance (event, attended_on, partner_id, recorded_by_id, user_id)
SELECT 'Event ' || e, %(q_start)s::date + floor(random() * %(window_days)s)::int,
       m.partner_id, NULL, m.user_id
FROM partners_partneruser m, generate_series(1, 2) AS e
WHERE random() < 0.2
"""

ACCOUNTS_SQL = """
INSERT INTO partners_account
    (id, name, name_key, domain, domain_key, domain_skeleton, name_skeleton, direct_rep,
     owning_partner_id, created_at)
SELECT %(account_base)s + g,
       'Customer ' || g || ' Inc',
       'customer ' || g,
       'customer' || g || '.example',
       'customer' || g || '.example',
       -- the TR39 skeletons (prm.normalize) of these names: m → rn, 0 → o, 1 → l
       'custorner' || translate(g::text, '01', 'ol'),
       'custorner ' || translate(g::text, '01', 'ol'),
       CASE WHEN mod(g, 50) = 0 THEN 'rep' || mod(g, 40) || '@vendor.example' ELSE '' END,
       NULL,
       %(span_start)s::timestamptz - random() * interval '1000 days'
FROM generate_series(1, %(accounts)s) AS g
"""

# Deal g is submitted at its share of the span (ids in submission order) and sits on
# account 1 + (g - 1) mod accounts: an account's last deal is the one with g > deals -
# accounts, and only that one may be open, so no account has two open registrations.
DEALS_SQL = """
WITH p AS (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n FROM partners_partner),
raw AS (
    SELECT g,
           least(now(), greatest(%(span_start)s::timestamptz,
                 %(span_start)s::timestamptz
                 + (now() - %(span_start)s::timestamptz) * ((g - 1)::float8 / %(deals)s)
                 + (random() - 0.5) * interval '4 days')) AS submitted_at,
           g > %(deals)s - %(accounts)s AS last_on_account,
           random() AS r, random() AS r2, random() AS r3, random() AS r4, random() AS r5
    FROM generate_series(1, %(deals)s) AS g
),
shaped AS (
    SELECT raw.*,
           round((2000 + 98000 * random() ^ 3)::numeric, 2) AS amount,
           CASE
               WHEN last_on_account AND submitted_at > now() - interval '2 days' THEN 'pending'
               WHEN last_on_account AND submitted_at > now() - interval '89 days' AND r < 0.6
                   THEN 'approved'
               WHEN submitted_at > now() - interval '90 days' THEN
                   CASE WHEN r2 < 0.1 THEN 'rejected' WHEN r2 < 0.55 THEN 'won' ELSE 'lost' END
               WHEN r < 0.05 THEN 'rejected'
               WHEN r < 0.45 THEN 'won'
               WHEN r < 0.72 THEN 'lost'
               ELSE 'expired'
           END AS status,
           (ARRAY['reseller', 'reseller', 'reseller', 'referral', 'co_sell', 'oem'])
               [1 + floor(random() * 6)::int] AS model,
           r3 < 0.05 AS direct
    FROM raw
),
dated AS (
    SELECT shaped.*,
           least(current_date, submitted_at::date + 10 + floor(r2 * 110)::int) AS close_day,
           round(amount * (0.8 + 0.3 * r2)::numeric, 2) AS won_amount
    FROM shaped
),
rated AS (
    SELECT dated.*,
           close_day + 7 + floor(r4 * 30)::int + interval '10 hours' AS csat_at,
           status = 'won' AND r3 >= 0.6 AS asked,
           CASE WHEN direct THEN round(won_amount * 0.4, 2)
                WHEN model = 'co_sell' THEN round(won_amount * 0.3, 2)
                ELSE won_amount END AS credit
    FROM dated
)
INSERT INTO deals_deal (
    id, partner_id, account_id, customer_name, customer_domain, amount, currency,
    amount_reporting, amount_rate,
    expected_close, deal_type, compensation_model, contract_years, notes, status, reason,
    reason_note, submitted_at, approved_at, auto_approved, rejected_at, expires_on, extended,
    extension_justification, expired_at, direct_conflict, co_sell_partner_share,
    oem_discount, imported, closed_on, closed_at, closed_amount,
    closed_amount_reporting, closed_rate, protected_when_won,
    margin_rate, partner_credit, partner_price, commission, csat, csat_recorded_at,
    csat_surveyed_on, needs_review, review_reason, created_at, updated_at
)
SELECT %(deal_base)s + g,
       p.ids[1 + floor(p.n * random() ^ 2)::int],
       %(account_base)s + 1 + mod(g - 1, %(accounts)s),
       'Customer ' || (1 + mod(g - 1, %(accounts)s)) || ' Inc',
       'customer' || (1 + mod(g - 1, %(accounts)s)) || '.example',
       amount,
       'USD',
       amount,
       1,
       submitted_at::date + 60 + floor(random() * 120)::int,
       (ARRAY['new_logo', 'upsell', 'cross_sell', 'renewal'])[1 + floor(random() * 4)::int],
       model,
       1 + floor(random() * 3)::int,
       '',
       status,
       CASE WHEN status = 'rejected' THEN
           CASE WHEN r2 < 0.5 THEN 'registered_by_another_partner' ELSE 'existing_lead' END
       ELSE '' END,
       '',
       submitted_at,
       CASE WHEN status NOT IN ('pending', 'rejected')
            THEN least(now(), submitted_at + interval '20 hours') END,
       false,
       CASE WHEN status = 'rejected' THEN least(now(), submitted_at + interval '1 hour') END,
       CASE WHEN status NOT IN ('pending', 'rejected') THEN submitted_at::date + 90 END,
       false,
       '',
       CASE WHEN status = 'expired' THEN (submitted_at::date + 91)::timestamptz END,
       direct,
       CASE WHEN model = 'co_sell' THEN 0.3000 END,
       CASE WHEN model = 'oem' THEN 0.4500 END,
       false,
       CASE WHEN status IN ('won', 'lost') THEN close_day END,
       CASE WHEN status IN ('won', 'lost') THEN least(now(), close_day + interval '16 hours') END,
       CASE WHEN status = 'won' THEN won_amount END,
       CASE WHEN status = 'won' THEN won_amount END,
       CASE WHEN status = 'won' THEN 1 END,
       CASE WHEN status = 'won' THEN true END,
       CASE WHEN status = 'won' THEN 0.2000 END,
       CASE WHEN status = 'won' THEN credit END,
       CASE WHEN status = 'won' AND model IN ('reseller', 'oem')
            THEN round(won_amount * 0.8, 2) END,
       CASE WHEN status = 'won' THEN
           CASE WHEN model = 'referral' THEN round(won_amount * 0.1, 2) ELSE 0 END END,
       CASE WHEN asked AND csat_at < now()
            THEN (ARRAY[1, 2, 3, 3, 4, 4, 4, 5, 5, 5])[1 + floor(r5 * 10)::int] END,
       CASE WHEN asked AND csat_at < now() THEN csat_at END,
       CASE WHEN asked AND csat_at < now() THEN csat_at::date END,
       false,
       '',
       submitted_at,
       now()
FROM rated, p
"""

PRODUCTS_SQL = """
INSERT INTO deals_product (slug, name, strategic, is_active) VALUES
    ('core', 'Core platform', false, true),
    ('analytics', 'Analytics', false, true),
    ('security', 'Security suite', true, true),
    ('edge', 'Edge gateway', false, true),
    ('insight', 'Insight engine', true, true),
    ('support-plus', 'Support plus', false, true)
"""

DEAL_PRODUCTS_SQL = """
WITH pr AS (SELECT array_agg(id ORDER BY id) AS ids FROM deals_product)
INSERT INTO deals_deal_products (deal_id, product_id)
SELECT d.id, pr.ids[1 + mod(d.id, 6)::int] FROM deals_deal d, pr
UNION ALL
SELECT d.id, pr.ids[1 + mod(d.id + 1 + mod(d.id / 7, 5), 6)::int] FROM deals_deal d, pr
WHERE mod(d.id, 4) = 0
"""

# The three closes before: qualified at, below or above the tier held; the same tier kept.
HISTORY_SQL = """
WITH t AS (SELECT id, rank FROM partners_tier WHERE program_id = %(program)s),
raw AS (
    SELECT p.id AS partner_id, p.tier_id, own.rank, q.quarter, random() AS r,
           round((20 + 75 * random())::numeric, 2) AS total
    FROM partners_partner p
    JOIN t own ON own.id = p.tier_id
    CROSS JOIN unnest(%(history)s::text[]) AS q (quarter)
),
s AS (
    SELECT raw.*, CASE WHEN r < 0.12 THEN 1 WHEN r < 0.24 THEN -1 ELSE 0 END AS step
    FROM raw
)
INSERT INTO scoring_scorecard (quarter, meets_lowest, decision, inputs, revenue, pipeline,
                               certification, satisfaction, engagement, total, band,
                               csat_no_data, closed_at, partner_id, qualified_tier_id,
                               tier_after_id, tier_before_id)
SELECT s.quarter, true, 'stay', '{}'::jsonb, 0, 0, 0, 0, 0, s.total,
       CASE WHEN s.total >= 80 THEN 'invest' WHEN s.total >= 60 THEN 'grow'
            WHEN s.total >= 40 THEN 'maintain' ELSE 'probation' END,
       false, now() - interval '60 days', s.partner_id, coalesce(q.id, s.tier_id),
       s.tier_id, s.tier_id
FROM s LEFT JOIN t q ON q.rank = s.rank + s.step
"""


def load(args, quarter) -> list[tuple]:
    from django.db import connection

    from enablement.models import CertificationType
    from partners.models import Program

    today = date.today()
    program = Program.objects.get(is_default=True)
    tiers = {t.rank: t.pk for t in program.tiers.all()}
    first = quarter.trailing(5)[0]  # the closed quarter, the 4 before it and today's
    n = args.partners
    params = {
        "partners": n,
        "managers": max(1, n // 200),
        "deals": args.deals,
        "accounts": max(1, args.deals // 2),
        "program": program.pk,
        "tier0": tiers[0],
        "tier1": tiers[1],
        "tier2": tiers[2],
        "tier3": tiers[3],
        "platinum_upto": n * 5 // 100,
        "gold_upto": n * 20 // 100,
        "silver_upto": n * 50 // 100,
        "cert_type": CertificationType.objects.get(slug="demo").pk,
        "today": today,
        "q_start": quarter.start,
        "q_end": quarter.end,
        "window_days": (today - quarter.start).days,
        "span_start": datetime.combine(first.start, clock.min, tzinfo=UTC),
        "history": [q.label for q in quarter.trailing(4)[:-1]],
    }
    steps = [
        ("partners_user", "managers", MANAGERS_SQL),
        ("partners_partner", "partners", PARTNERS_SQL),
        ("partners_user", "people", USERS_SQL),
        ("partners_partneruser", "memberships", MEMBERS_SQL),
        ("enablement_certification", "certifications", CERTIFICATIONS_SQL),
        ("enablement_loginday", "login days", LOGIN_DAYS_SQL),
        ("enablement_trainingcompletion", "trainings", TRAININGS_SQL),
        ("enablement_eventattendance", "events", EVENTS_SQL),
        ("partners_account", "accounts", ACCOUNTS_SQL),
        ("deals_deal", "deals", DEALS_SQL),
        ("deals_product", "products", PRODUCTS_SQL),
        ("deals_deal_products", "deal products", DEAL_PRODUCTS_SQL),
        ("scoring_scorecard", "earlier scorecards", HISTORY_SQL),
    ]
    timings = []
    with connection.cursor() as cur:
        cur.execute("SET synchronous_commit = off")
        cur.execute("SET maintenance_work_mem = '512MB'")
        cur.execute("SET work_mem = '256MB'")
        # Foreign keys are consistent by construction; skip their per-row triggers.
        cur.execute("SET session_replication_role = replica")
        for table, base in (
            ("partners_user", "user_base"),
            ("partners_partner", "partner_base"),
            ("partners_account", "account_base"),
            ("deals_deal", "deal_base"),
        ):
            cur.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
            params[base] = cur.fetchone()[0]
        params["people_base"] = params["user_base"] + params["managers"]
        dropped: dict[str, list[str]] = {}
        for table, label, sql in steps:
            start = time.perf_counter()
            if table not in dropped:
                dropped[table] = drop_secondary_indexes(cur, table)
            cur.execute(sql, params)
            timings.append((label, cur.rowcount, time.perf_counter() - start))
        start = time.perf_counter()
        count = 0
        for definitions in dropped.values():
            for definition in definitions:
                cur.execute(definition)
                count += 1
        timings.append((f"rebuild {count} indexes", None, time.perf_counter() - start))
        for table in ("partners_user", "partners_partner", "partners_account", "deals_deal"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
            )
        cur.execute(
            "SELECT setval(pg_get_serial_sequence('partners_partneruser', 'id'), max(id)) "
            "FROM partners_partneruser"
        )
        cur.execute("SET session_replication_role = origin")
        start = time.perf_counter()
        cur.execute("VACUUM ANALYZE")  # hint bits and visibility map, as in a settled database
        timings.append(("VACUUM ANALYZE", None, time.perf_counter() - start))
        # The load's dirty pages on disk now, not flushed by a checkpoint during the close.
        start = time.perf_counter()
        cur.execute("CHECKPOINT")
        timings.append(("CHECKPOINT", None, time.perf_counter() - start))
    connection.close()  # the measurements start from a fresh session (default work_mem)
    return timings


def describe(quarter) -> dict:
    """What the loaded book holds: the figures printed before the close."""
    from django.db import connection

    from prm.quarters import trailing_twelve_months

    with connection.cursor() as cur:
        cur.execute("SELECT status, count(*) FROM deals_deal GROUP BY 1 ORDER BY 2 DESC")
        by_status = cur.fetchall()
        cur.execute(
            "SELECT t.name, count(*) FROM partners_partner p JOIN partners_tier t "
            "ON t.id = p.tier_id GROUP BY t.name, t.rank ORDER BY t.rank"
        )
        pyramid = cur.fetchall()
        cur.execute(
            "SELECT count(*) FILTER (WHERE status = 'won' AND closed_on BETWEEN %s AND %s), "
            "count(*) FILTER (WHERE csat_surveyed_on BETWEEN %s AND %s), "
            "count(*) FILTER (WHERE status IN ('pending', 'approved')) FROM deals_deal",
            [quarter.start, quarter.end, quarter.start, quarter.end],
        )
        won_in_quarter, csat_in_quarter, open_now = cur.fetchone()
        cur.execute(
            "SELECT count(*) FROM (SELECT account_id FROM deals_deal "
            "WHERE status IN ('pending', 'approved') GROUP BY account_id HAVING count(*) > 1) x"
        )
        doubly_open = cur.fetchone()[0]
        cur.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('deals_deal')), "
            "pg_size_pretty(pg_database_size(current_database()))"
        )
        deal_size, db_size = cur.fetchone()
    connection.close()
    return {
        "by_status": by_status,
        "pyramid": pyramid,
        "won_in_quarter": won_in_quarter,
        "csat_in_quarter": csat_in_quarter,
        "open_now": open_now,
        "doubly_open": doubly_open,
        "deal_size": deal_size,
        "db_size": db_size,
        "t12m": trailing_twelve_months(quarter.end),
    }


# ---------------------------------------------------------------- the close


class StatementLog:
    """Every statement the close runs, with its time and thread: exact, unlike the capped
    query log. Wraps the close's own connection, and each connection opened while it
    runs (the close's second connection, in a thread of its own)."""

    def __init__(self):
        self.items: list[tuple[float, str, int]] = []

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.items.append((time.perf_counter() - start, sql, threading.get_ident()))

    def wrap_new(self, sender, connection, **kwargs):
        if self not in connection.execute_wrappers:  # a thread's connection may reconnect
            connection.execute_wrappers.append(self)

    def here(self, start: int = 0) -> list[tuple[float, str, int]]:
        """The statements of this thread, from the ``start``th of all."""
        me = threading.get_ident()
        return [item for item in self.items[start:] if item[2] == me]


def _short(sql: str, width: int = 150) -> str:
    sql = re.sub(r"\s+", " ", sql)
    sql = re.sub(r"(%s, ){3,}%s", "%s, …", sql)
    sql = re.sub(r"(\(%s(, %s)*\)(, )?){3,}", "(…), … ", sql)
    return sql[:width] + ("…" if len(sql) > width else "")


def checksum(label: str) -> tuple[int, str]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT count(*), md5(coalesce(string_agg(
                       partner_id || ':' || total || ':' || band || ':' || decision || ':'
                       || tier_after_id, ',' ORDER BY partner_id), ''))
            FROM scoring_scorecard WHERE quarter = %s
            """,
            [label],
        )
        return cur.fetchone()


def rss_now() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def max_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


class Steps:
    """Wall and SQL time of the close's named steps, by wrapping them while a run lasts.

    Only coarse steps (a few dozen calls per close), so the wrapping costs nothing
    measurable; names the code no longer has are skipped.
    """

    SERVICES = (
        "_compute",
        "_write",
        "_gather",
        "_enablement_and_history",
        "_score_and_write",
        "_money_and_flags",
        "_close_flags",
        "_apply_flags",
        "active_partners",
        "tiers_before_close",
        "scorecard_history",
        "red_flags_refresh",
        "revenue_by_partner",
        "approved_registrations_by_partner",
        "certified_rep_counts",
        "csat_by_partner",
        "engagement_counts",
        "partner_facts",
        "registration_activity",
        "lapsed_certification_partners",
        "deal_figures",
        "strategic_wins_by_partner",
        "certification_counts",
        "close_incentives",
    )
    QUERIES = ("revenue_by_partner", "certified_rep_counts", "pipeline_by_partner")

    def __init__(self, log: "StatementLog"):
        self.log = log
        self.stats: dict[str, list] = {}
        self.saved: list[tuple[object, str, object]] = []

    def _wrap(self, owner, attr: str, label: str) -> None:
        original = getattr(owner, attr, None)
        if original is None:
            return
        log, stats = self.log, self.stats

        def timed(*args, **kwargs):
            mark, start = len(log.items), time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                name = label
                if attr.startswith("bulk_") and args:
                    name = f"{args[0].model.__name__}.objects.{attr}"
                entry = stats.setdefault(name, [0, 0.0, 0.0])
                entry[0] += 1
                entry[1] += time.perf_counter() - start
                entry[2] += sum(t for t, _, _ in log.here(mark))

        self.saved.append((owner, attr, original))
        setattr(owner, attr, timed)

    def __enter__(self):
        from django.db.models import QuerySet

        import scoring.queries
        import scoring.services.close

        for name in self.SERVICES:
            self._wrap(scoring.services.close, name, f"services.{name}")
        for name in self.QUERIES:
            self._wrap(scoring.queries, name, f"partner_facts › {name}")
        for name in ("bulk_create", "bulk_update"):
            self._wrap(QuerySet, name, name)
        return self

    def __exit__(self, *exc):
        for owner, attr, original in reversed(self.saved):
            setattr(owner, attr, original)


def vacuum_written_tables() -> float:
    """VACUUM ANALYZE what a close writes, as autovacuum would between closes."""
    from django.db import connection

    start = time.perf_counter()
    with connection.cursor() as cur:
        for table in (
            "partners_partner",
            "scoring_scorecard",
            "partners_tierchange",
            "partners_redflag",
            "partners_outreachtask",
            "scoring_quarterclose",
            "incentives_ledgerentry",
            "incentives_historicalledgerentry",
            "incentives_mdffund",
        ):
            cur.execute(f"VACUUM ANALYZE {table}")
    return time.perf_counter() - start


def run_close(label: str, *, traced: bool = False, steps: bool = False) -> dict:
    from contextlib import nullcontext

    from django.db import connection, reset_queries
    from django.db.backends.signals import connection_created
    from django.test.utils import CaptureQueriesContext

    from scoring.services.close import quarter_close

    log = StatementLog()
    breakdown = Steps(log) if steps else nullcontext()
    reset_queries()  # the query log is a deque capped at 9000 entries
    before = {"rss": rss_now(), "max_rss": max_rss()}
    if traced:
        tracemalloc.start()
    connection_created.connect(log.wrap_new)
    with (
        CaptureQueriesContext(connection) as captured,
        connection.execute_wrapper(log),
        breakdown,
    ):
        start = time.perf_counter()
        close = quarter_close(quarter=label)
        wall = time.perf_counter() - start
    connection_created.disconnect(log.wrap_new)
    peak = None
    if traced:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return {
        "close": close,
        "wall": wall,
        "captured": list(captured.captured_queries),
        "log": log.items,
        "own": log.here(),
        "steps": breakdown.stats if steps else None,
        "before": before,
        "after": {"rss": rss_now(), "max_rss": max_rss()},
        "traced_peak": peak,
        "checksum": checksum(label),
    }


def run_what_if(runs: int) -> tuple[float, object]:
    """A chief's draft of the default program with gold's revenue floor 10% lower, tried on
    the quarter just closed ``runs`` times (it writes nothing): the median seconds and the
    last result."""
    from decimal import Decimal

    from partners.models import Program, User
    from partners.services.versions import version_copy_to_draft, version_update_draft
    from prm.roles import Role
    from scoring.services.versions import what_if

    chief, _ = User.objects.get_or_create(
        username="bench-chief", defaults={"role": Role.CHANNEL_CHIEF}
    )
    draft = version_copy_to_draft(program=Program.objects.get(is_default=True), by=chief)
    rules = draft.rules
    for tier in rules["tiers"].values():
        if tier["slug"] == "gold":
            tier["revenue_floor"] = str(Decimal(tier["revenue_floor"]) * Decimal("0.9"))
    draft = version_update_draft(version=draft, rules=rules, by=chief)
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = what_if(draft)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def explain_slowest(captured: list[dict]) -> tuple[float, str, list[str]]:
    """EXPLAIN (ANALYZE, BUFFERS) the slowest SELECT the close ran, as it ran it."""
    from django.db import connection

    selects = [q for q in captured if q["sql"].lstrip().upper().startswith("SELECT")]
    slowest = max(selects, key=lambda q: float(q["time"]))
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest["sql"])
        plan = [_elide(line) for (line,) in cur.fetchall()]
    return float(slowest["time"]), _elide(slowest["sql"]), plan


def _elide(text: str) -> str:
    """Shorten the id lists the close passes (20,000 partner ids) to a count."""

    def count(match) -> str:
        return f"<{match.group(0).count(',') + 1} ids>"

    text = re.sub(r"(?:'?\d+'?(?:::bigint)?, ?){5,}'?\d+'?(?:::bigint)?", count, text)
    return re.sub(r"(?:\d+,){5,}\d+", count, text)


# ---------------------------------------------------------------- the floor

# Portal-login days, trainings and events in the quarter: both floors read them.
ENGAGEMENT_CTES = """
logins AS (
    SELECT partner_id, count(DISTINCT day) AS n FROM enablement_loginday
    WHERE day BETWEEN %(q_start)s AND %(q_end)s GROUP BY partner_id
),
trainings AS (
    SELECT partner_id, count(*) AS n FROM enablement_trainingcompletion
    WHERE completed_on BETWEEN %(q_start)s AND %(q_end)s GROUP BY partner_id
),
events AS (
    SELECT partner_id, count(*) AS n FROM enablement_eventattendance
    WHERE attended_on BETWEEN %(q_start)s AND %(q_end)s GROUP BY partner_id
)"""

# The scorecard's inputs: one pass over deals (FILTERed aggregates), then the three
# engagement tables and the certified reps, joined to the active partners.
FLOOR_SQL = (
    """
WITH active AS (SELECT id FROM partners_partner WHERE status = 'active'),
deals AS (
    SELECT partner_id,
           sum(partner_credit) FILTER (
               WHERE status = 'won' AND closed_on BETWEEN %(q_start)s AND %(q_end)s
           ) AS quarter_revenue,
           count(*) FILTER (
               WHERE approved_at IS NOT NULL AND submitted_at >= %(low)s AND submitted_at < %(high)s
           ) AS approved,
           count(csat) FILTER (
               WHERE csat_surveyed_on BETWEEN %(q_start)s AND %(q_end)s
           ) AS csat_n,
           sum(csat) FILTER (
               WHERE csat_surveyed_on BETWEEN %(q_start)s AND %(q_end)s
           ) AS csat_total,
           sum(partner_credit) FILTER (
               WHERE status = 'won' AND closed_on BETWEEN %(t12_start)s AND %(q_end)s
           ) AS trailing_revenue
    FROM deals_deal
    WHERE (status = 'won' AND closed_on BETWEEN %(t12_start)s AND %(q_end)s)
       OR (submitted_at >= %(low)s AND submitted_at < %(high)s)
       OR (csat_surveyed_on BETWEEN %(q_start)s AND %(q_end)s)
    GROUP BY partner_id
),
reps AS (
    SELECT c.partner_id, count(DISTINCT c.user_id) AS n
    FROM enablement_certification c
    JOIN partners_user u ON u.id = c.user_id AND u.is_active
    JOIN partners_partneruser m ON m.user_id = c.user_id AND m.partner_id = c.partner_id
    WHERE c.issued_on <= %(q_end)s AND c.expires_on > %(q_end)s
    GROUP BY c.partner_id
),
"""
    + ENGAGEMENT_CTES
    + """
SELECT a.id,
       coalesce(d.quarter_revenue, 0),
       coalesce(d.approved, 0),
       coalesce(reps.n, 0),
       coalesce(d.csat_n, 0),
       coalesce(d.csat_total, 0),
       coalesce(logins.n, 0),
       coalesce(trainings.n, 0),
       coalesce(events.n, 0),
       coalesce(d.trailing_revenue, 0)
FROM active a
LEFT JOIN deals d ON d.partner_id = a.id
LEFT JOIN reps ON reps.partner_id = a.id
LEFT JOIN logins ON logins.partner_id = a.id
LEFT JOIN trainings ON trainings.partner_id = a.id
LEFT JOIN events ON events.partner_id = a.id
ORDER BY a.id
"""
)


# The floor for every input the close reads, not only the scorecard's: one statement with
# the tier decision's (open registrations, new logos; strategic wins only when a tier asks
# for them, as the close), the red flags' (latest registration, a year of registrations,
# direct conflicts and CSAT, lapsed certifications), the money's (the previous quarter's
# revenue, the quarter's new logos, certifications held, approved community contributions)
# and the earlier closes' (qualified ranks and whether the lowest tier was met, most recent
# first; the tier held before a rerun). Its first ten columns are FLOOR_SQL's. Tuned as a
# hand-writer would tune it: the deals' aggregate MATERIALIZED, and run with JIT off
# (FULL_FLOOR_SETTINGS). Without them PostgreSQL 15 aggregates the deals through an index
# scan on partner_id, and compiles a plan it estimates at trillions of rows: 6.5 s.
FULL_FLOOR_SETTINGS = ("SET LOCAL jit = off",)
FULL_FLOOR_SQL = (
    """
WITH active AS (SELECT id FROM partners_partner WHERE status = 'active'),
deals AS MATERIALIZED (
    SELECT partner_id,
           sum(partner_credit) FILTER (
               WHERE status = 'won' AND closed_on BETWEEN %(q_start)s AND %(q_end)s
           ) AS quarter_revenue,
           count(*) FILTER (
               WHERE approved_at IS NOT NULL AND submitted_at >= %(low)s AND submitted_at < %(high)s
           ) AS approved,
           count(csat) FILTER (
               WHERE csat_surveyed_on BETWEEN %(q_start)s AND %(q_end)s
           ) AS csat_n,
           sum(csat) FILTER (
               WHERE csat_surveyed_on BETWEEN %(q_start)s AND %(q_end)s
           ) AS csat_total,
           sum(partner_credit) FILTER (
               WHERE status = 'won' AND closed_on BETWEEN %(t12_start)s AND %(q_end)s
           ) AS trailing_revenue,
           count(*) FILTER (
               WHERE status = 'won' AND closed_on BETWEEN %(t12_start)s AND %(q_end)s
                 AND deal_type = 'new_logo'
           ) AS new_logos,
           count(*) FILTER (
               WHERE status IN ('pending', 'approved')
                 AND (expires_on IS NULL OR expires_on >= %(q_end)s)
           ) AS open_registrations,
           sum(partner_credit) FILTER (
               WHERE status = 'won' AND closed_on BETWEEN %(p_start)s AND %(p_end)s
           ) AS previous_revenue,
           count(*) FILTER (
               WHERE status = 'won' AND closed_on BETWEEN %(q_start)s AND %(q_end)s
                 AND deal_type = 'new_logo'
           ) AS quarter_new_logos,
           max(submitted_at) FILTER (
               WHERE submitted_at >= %(r_low)s AND submitted_at < %(high)s
           ) AS latest_submitted,
           count(*) FILTER (WHERE submitted_at >= %(y_low)s AND submitted_at < %(high)s)
               AS year_registrations,
           count(*) FILTER (
               WHERE submitted_at >= %(y_low)s AND submitted_at < %(high)s AND direct_conflict
           ) AS year_direct,
           count(csat) FILTER (WHERE csat_surveyed_on BETWEEN %(y_start)s AND %(y_end)s)
               AS csat_year_n,
           sum(csat) FILTER (WHERE csat_surveyed_on BETWEEN %(y_start)s AND %(y_end)s)
               AS csat_year_sum
    FROM deals_deal
    WHERE (status = 'won' AND closed_on BETWEEN %(t12_start)s AND %(q_end)s)
       OR (submitted_at >= %(y_low)s AND submitted_at < %(high)s)
       OR (csat_surveyed_on BETWEEN %(y_start)s AND %(y_end)s)
       OR (status IN ('pending', 'approved') AND (expires_on IS NULL OR expires_on >= %(q_end)s))
    GROUP BY partner_id
),
certs AS (
    SELECT c.partner_id, count(DISTINCT c.user_id) AS reps, count(*) AS held
    FROM enablement_certification c
    JOIN partners_user u ON u.id = c.user_id AND u.is_active
    JOIN partners_partneruser m ON m.user_id = c.user_id AND m.partner_id = c.partner_id
    WHERE c.issued_on <= %(q_end)s AND c.expires_on > %(q_end)s
    GROUP BY c.partner_id
),
"""
    + ENGAGEMENT_CTES
    + """,
lapsed AS (
    SELECT DISTINCT c.partner_id FROM enablement_certification c
    WHERE c.partner_id IN (SELECT id FROM active) AND c.expires_on <= %(q_end)s
      AND c.user_id NOT IN (
          SELECT k.user_id FROM enablement_certification k
          WHERE k.partner_id IN (SELECT id FROM active)
            AND k.issued_on <= %(q_end)s AND k.expires_on > %(q_end)s
      )
),
history AS (
    SELECT s.partner_id, array_agg(t.rank ORDER BY s.quarter DESC) AS ranks,
           array_agg(s.meets_lowest ORDER BY s.quarter DESC) AS meets
    FROM scoring_scorecard s JOIN partners_tier t ON t.id = s.qualified_tier_id
    WHERE s.quarter = ANY(%(history)s) GROUP BY s.partner_id
),
held_before AS (SELECT partner_id, tier_before_id FROM scoring_scorecard WHERE quarter = %(label)s),
contributions AS (
    SELECT partner_id, count(*) AS n FROM incentives_contribution
    WHERE kind = 'community' AND status = 'approved'
      AND decided_at >= %(low)s AND decided_at < %(high)s
    GROUP BY partner_id
)
SELECT a.id,
       coalesce(d.quarter_revenue, 0),
       coalesce(d.approved, 0),
       coalesce(certs.reps, 0),
       coalesce(d.csat_n, 0),
       coalesce(d.csat_total, 0),
       coalesce(logins.n, 0),
       coalesce(trainings.n, 0),
       coalesce(events.n, 0),
       coalesce(d.trailing_revenue, 0),
       coalesce(d.new_logos, 0),
       coalesce(d.open_registrations, 0),
       coalesce(d.previous_revenue, 0),
       coalesce(d.quarter_new_logos, 0),
       d.latest_submitted,
       coalesce(d.year_registrations, 0),
       coalesce(d.year_direct, 0),
       coalesce(d.csat_year_n, 0),
       coalesce(d.csat_year_sum, 0),
       coalesce(certs.held, 0),
       lapsed.partner_id IS NOT NULL,
       history.ranks,
       history.meets,
       held_before.tier_before_id,
       coalesce(contributions.n, 0)
FROM active a
LEFT JOIN deals d ON d.partner_id = a.id
LEFT JOIN certs ON certs.partner_id = a.id
LEFT JOIN logins ON logins.partner_id = a.id
LEFT JOIN trainings ON trainings.partner_id = a.id
LEFT JOIN events ON events.partner_id = a.id
LEFT JOIN lapsed ON lapsed.partner_id = a.id
LEFT JOIN history ON history.partner_id = a.id
LEFT JOIN held_before ON held_before.partner_id = a.id
LEFT JOIN contributions ON contributions.partner_id = a.id
ORDER BY a.id
"""
)


def floor_params(quarter, t12m) -> dict:
    from django.utils import timezone

    zone = timezone.get_current_timezone()
    return {
        "q_start": quarter.start,
        "q_end": quarter.end,
        "t12_start": t12m[0],
        "low": datetime.combine(quarter.start, clock.min, tzinfo=zone),
        "high": datetime.combine(quarter.end + timedelta(days=1), clock.min, tzinfo=zone),
    }


def full_floor_params(quarter, t12m) -> dict:
    """FULL_FLOOR_SQL's windows: the close's own (``scoring.services.close._figure_spans``)."""
    from deals.queries import day_span
    from partners.models import Program
    from scoring.services.close import _figure_spans

    spans = _figure_spans(quarter.end, quarter, Program.objects.all())
    return {
        **floor_params(quarter, t12m),
        "p_start": spans["previous"][0],
        "p_end": spans["previous"][1],
        "r_low": day_span(*spans["recent"])[0],
        "y_low": day_span(*spans["year"])[0],
        "y_start": spans["year"][0],
        "y_end": spans["year"][1],
        "history": [q.label for q in quarter.trailing(4)[:-1]],
        "label": quarter.label,
    }


def run_floor(
    sql: str, params: dict, runs: int, settings: tuple[str, ...] = ()
) -> tuple[list[float], list[tuple]]:
    from django.db import connection, transaction

    times, rows = [], []
    for _ in range(runs):
        with transaction.atomic(), connection.cursor() as cur:
            for setting in settings:
                cur.execute(setting)
            start = time.perf_counter()
            cur.execute(sql, params)
            rows = cur.fetchall()
            times.append(time.perf_counter() - start)
    return times, rows


def compare_with_scorecards(label: str, rows: list[tuple]) -> tuple[int, dict[str, int]]:
    """Check the floor against the inputs the close stored: mismatches per input."""
    from scoring.models import Scorecard

    stored = dict(Scorecard.objects.filter(quarter=label).values_list("partner_id", "inputs"))
    keys = (
        "quarter_revenue",
        "approved_registrations",
        "certified_reps",
        "csat_responses",
        "csat_average",
        "login_days",
        "trainings",
        "events",
        "trailing_revenue",
    )
    wrong = dict.fromkeys(keys, 0)
    wrong["missing"] = 0
    for row in rows:
        pid, revenue, approved, reps, responses, total, logins, trainings, events, t12m = row[:10]
        inputs = stored.get(pid)
        if inputs is None:
            wrong["missing"] += 1
            continue
        # the close's own expression for the average it stores
        average = str(round(Decimal(total) / responses, 2)) if responses else None
        mine = (revenue, approved, reps, responses, average, logins, trainings, events, t12m)
        for key, value in zip(keys, mine, strict=True):
            theirs = inputs[key]
            if key in ("quarter_revenue", "trailing_revenue"):
                theirs = Decimal(theirs)
            if value != theirs:
                wrong[key] += 1
    return len(stored), wrong


def compare_with_gathered(quarter, rows: list[tuple]) -> tuple[int, dict[str, int]]:
    """Check every column of FULL_FLOOR_SQL against the inputs the close gathers (read
    again, untimed, with the close's own functions): mismatches per input."""
    from incentives.queries import approved_contributions
    from partners.models import Program
    from scoring.services.close import _gather

    gathered = _gather(quarter)
    contributions = {}
    for program in Program.objects.all():
        contributions.update(approved_contributions(program.pk, quarter.start, quarter.end))
    names = [
        "quarter_revenue",
        "approved_in_quarter",
        "certified_reps",
        "csat_quarter_n",
        "csat_quarter_sum",
        "login_days",
        "trainings",
        "events",
        "trailing_revenue",
        "new_logos",
        "open_registrations",
        "previous_revenue",
        "quarter_new_logos",
        "latest_submitted",
        "year_registrations",
        "year_direct",
        "csat_year_n",
        "csat_year_sum",
        "certifications_held",
        "lapsed",
        "ranks",
        "meets",
        "tier_before",
        "contributions",
    ]
    wrong = dict.fromkeys(names, 0)
    for row in rows:
        pid = row[0]
        figures = gathered.figures.get(pid, {})
        engagement = gathered.engagement.get(pid, {})
        ranks, meets = gathered.history.get(pid, (None, None))
        expected = [
            figures.get("quarter_revenue") or 0,
            figures.get("approved_in_quarter", 0),
            gathered.reps.get(pid, 0),
            figures.get("csat_quarter_n", 0),
            figures.get("csat_quarter_sum") or 0,
            engagement.get("login_days", 0),
            engagement.get("trainings", 0),
            engagement.get("events", 0),
            figures.get("trailing_revenue") or 0,
            figures.get("new_logos", 0),
            figures.get("open_registrations", 0),
            figures.get("previous_revenue") or 0,
            figures.get("quarter_new_logos", 0),
            figures.get("latest_submitted"),
            figures.get("year_registrations", 0),
            figures.get("year_direct", 0),
            figures.get("csat_year_n", 0),
            figures.get("csat_year_sum") or 0,
            gathered.certifications.get(pid, 0),
            pid in gathered.flag_inputs.lapsed,
            list(ranks) if ranks is not None else None,
            list(meets) if meets is not None else None,
            gathered.already.get(pid),
            contributions.get(pid, 0),
        ]
        for name, mine, value in zip(names, row[1:], expected, strict=True):
            wrong[name] += mine != value
    return len(rows), wrong


def new_logo_check(label: str, quarter, t12m) -> tuple[int, int]:
    """Partners whose stored new_logos differs from a distinct count of their new-logo wins."""
    from django.db import connection

    from scoring.models import Scorecard

    with connection.cursor() as cur:
        cur.execute(
            "SELECT partner_id, count(*) FROM deals_deal WHERE status = 'won' "
            "AND deal_type = 'new_logo' AND closed_on BETWEEN %s AND %s GROUP BY 1",
            [t12m[0], quarter.end],
        )
        truth = dict(cur.fetchall())
    stored = Scorecard.objects.filter(quarter=label).values_list("partner_id", "inputs")
    off = sum(1 for pid, inputs in stored if inputs["new_logos"] != truth.get(pid, 0))
    return off, len(truth)


# ---------------------------------------------------------------- report


def mib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / MIB:,.0f} MiB"


def yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def print_close(title: str, result: dict, top: int) -> None:
    close = result["close"]
    log, own = result["log"], result["own"]
    sql_s = sum(t for t, _, _ in own)
    beside = len(log) - len(own)
    beside_s = sum(t for t, _, _ in log) - sql_s
    print(
        f"{title}: {result['wall']:.2f} s wall; state {close.state}, "
        f"{close.partners_total:,} partners, {close.tier_changes:,} tier changes, "
        f"{close.flags_opened:,} flags opened"
    )
    print(f"  QuarterClose.timings: {close.timings}")
    captured = result["captured"]
    transaction = sum(1 for q in captured if q["sql"] in ("BEGIN", "COMMIT", "ROLLBACK"))
    capped = " — the log is capped at 9000, so this undercounts" if len(captured) >= 9000 else ""
    print(
        f"  SQL queries on the close's connection: {len(captured)} in CaptureQueriesContext "
        f"({len(captured) - transaction} statements + {transaction} BEGIN/COMMIT){capped}; "
        f"{len(own)} statements seen by an execute wrapper, {sql_s:.2f} s in the database "
        f"driver, {result['wall'] - sql_s:.2f} s in Python; on its second connection, "
        f"meanwhile: {beside} statements, {beside_s:.2f} s"
    )
    kinds: dict[str, list[float]] = {}
    for seconds, sql, _ in log:
        kind = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"
        kinds.setdefault(kind, []).append(seconds)
    print(
        "  by kind: "
        + ", ".join(f"{k} {len(v)} / {sum(v):.2f} s" for k, v in sorted(kinds.items()))
    )
    if top:
        print(f"  slowest {top} statements:")
        for seconds, sql, _ in sorted(log, key=lambda item: -item[0])[:top]:
            print(f"    {seconds:7.3f} s  {_short(sql)}")
    if result["steps"]:
        print("  steps (calls, wall, of which SQL, the rest Python or waiting for a core):")
        for name, (calls, wall, sql) in sorted(result["steps"].items(), key=lambda kv: -kv[1][1]):
            print(
                f"    {name:<52} {calls:>3}x {wall:7.2f} s  SQL {sql:6.2f} s  "
                f"Python {wall - sql:6.2f} s"
            )
    before, after = result["before"], result["after"]
    print(
        f"  memory: ru_maxrss {mib(before['max_rss'])} before, {mib(after['max_rss'])} after; "
        f"RSS now {mib(before['rss'])} before, {mib(after['rss'])} after"
        + (
            f"; tracemalloc peak {mib(result['traced_peak'])}"
            if result["traced_peak"] is not None
            else ""
        )
    )


def outcome(label: str) -> str:
    from django.db.models import Count

    from scoring.models import Scorecard

    cards = Scorecard.objects.filter(quarter=label)
    decisions = cards.values_list("decision").annotate(n=Count("id")).order_by("-n")
    bands = cards.values_list("band").annotate(n=Count("id")).order_by("-n")
    return (
        "decisions "
        + ", ".join(f"{d} {n:,}" for d, n in decisions)
        + "; bands "
        + ", ".join(f"{b} {n:,}" for b, n in bands)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=20_000)
    parser.add_argument("--deals", type=int, default=2_000_000)
    parser.add_argument("--floor-runs", type=int, default=3, help="median of this many")
    parser.add_argument("--what-if-runs", type=int, default=3, help="median of this many")
    parser.add_argument("--top", type=int, default=10, help="slowest statements to show")
    parser.add_argument(
        "--save-copy",
        metavar="DB",
        help="after the load, copy the loaded book to database DB (replaced)",
    )
    parser.add_argument(
        "--from-copy",
        metavar="DB",
        help="start from a copy of DB saved by --save-copy the same day, instead of loading",
    )
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)

    overall = time.perf_counter()
    # so that django.setup() finds the database
    recreate_database(template=args.from_copy)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from prm.quarters import Quarter

    quarter = Quarter.containing(date.today()).previous()
    if args.from_copy:
        call_command("migrate", verbosity=0)  # a copy saved before newer migrations
        print(f"started from a copy of {args.from_copy} (loaded before, not closed)")
        facts = describe(quarter)
    else:
        connection.close()
        start = time.perf_counter()
        call_command("migrate", verbosity=0)
        print(f"migrate: {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        timings = load(args, quarter)
        load_s = time.perf_counter() - start
        facts = describe(quarter)
        print(
            f"bulk load: {load_s:.1f} s for {args.partners:,} partners, {args.deals:,} deals "
            f"({os.cpu_count()} CPUs); deals_deal {facts['deal_size']}, "
            f"database {facts['db_size']}"
        )
        for label, rows, seconds in timings:
            count = f"{rows:>10,} rows" if rows is not None and rows >= 0 else " " * 15
            print(f"  {label:<22} {count} {seconds:7.1f} s")
        if args.save_copy:
            save_database(args.save_copy)
            print(f"  loaded book copied to {args.save_copy}")
    print("  tiers: " + ", ".join(f"{name} {n:,}" for name, n in facts["pyramid"]))
    print("  deals by status: " + ", ".join(f"{s} {n:,}" for s, n in facts["by_status"]))
    print(
        f"  in {quarter.label} ({quarter.start} – {quarter.end}): "
        f"{facts['won_in_quarter']:,} deals won, {facts['csat_in_quarter']:,} CSAT answers; "
        f"open registrations now {facts['open_now']:,}; accounts with two open: "
        f"{facts['doubly_open']}"
    )
    with connection.cursor() as cur:
        cur.execute(
            "SELECT current_setting('shared_buffers'), current_setting('work_mem'), "
            "current_setting('autovacuum'), current_setting('jit'), "
            "current_setting('max_parallel_workers_per_gather')"
        )
        settings = cur.fetchone()
    print(
        "  server: shared_buffers {}, work_mem {}, autovacuum {}, jit {}, "
        "max_parallel_workers_per_gather {}".format(*settings)
    )

    label = quarter.label
    print(f"\nclosing {label} (today {date.today()}):")
    first = run_close(label, steps=True)
    print_close("(1) first close", first, args.top)
    print(f"  {outcome(label)}")
    print(f"  VACUUM ANALYZE of the tables the close writes: {vacuum_written_tables():.1f} s")
    second = run_close(label, steps=True)
    print_close("(2) rerun", second, 0)
    same = second["checksum"] == first["checksum"]
    print(
        f"  scorecards after the rerun: {second['checksum'][0]:,} rows, checksum "
        f"{second['checksum'][1]} — same as after the first close: {yes(same)}"
    )
    vacuum_written_tables()
    third = run_close(label, traced=True)
    print_close("(3) rerun under tracemalloc (slower; not timed against the targets)", third, 0)
    print(f"  scorecards unchanged again: {yes(third['checksum'] == first['checksum'])}")

    what_if_s, tried = run_what_if(args.what_if_runs)
    what_if_ratio = what_if_s / first["wall"]
    print(
        f"\nthe what-if of a draft (gold's floor 10% lower) on {tried.quarter}: median "
        f"{what_if_s:.2f} s of {args.what_if_runs} runs, {len(tried.rows):,} partners, "
        f"{tried.movers:,} would move tier, payout difference "
        f"{tried.total('payout_difference'):,.2f}"
    )
    print(
        f"  the close {first['wall']:.2f} s (rerun {second['wall']:.2f} s), the what-if "
        f"{what_if_s:.2f} s: {what_if_ratio:.2f}x the close"
    )

    seconds, sql, plan = explain_slowest(first["captured"])
    print(f"\nslowest SELECT of the first close ({seconds:.3f} s), EXPLAIN (ANALYZE, BUFFERS) now:")
    print(f"  {_short(sql, 400)}")
    for line in plan:
        print(f"    {line[:160]}")

    params = full_floor_params(quarter, facts["t12m"])
    times, rows = run_floor(FULL_FLOOR_SQL, params, args.floor_runs, FULL_FLOOR_SETTINGS)
    floor_s = statistics.median(times)
    print(
        f"\nthe floor: every input the close reads, one SQL statement ({len(rows):,} rows "
        f"fetched): median {floor_s:.3f} s of {len(times)} runs "
        f"({', '.join(f'{t:.3f}' for t in times)})"
    )
    cards, wrong = compare_with_scorecards(label, rows)
    bad = {k: v for k, v in wrong.items() if v}
    print(
        f"  floor rows vs the {cards:,} scorecards' stored inputs: "
        + ("all equal" if not bad else "differences " + str(bad))
    )
    partners, wrong = compare_with_gathered(quarter, rows)
    bad = {k: v for k, v in wrong.items() if v}
    print(
        f"  floor rows vs what the close gathers for {partners:,} partners, all "
        f"{len(wrong)} inputs: " + ("all equal" if not bad else "differences " + str(bad))
    )
    off, partners_with_logos = new_logo_check(label, quarter, facts["t12m"])
    print(
        f"  scorecards whose new_logos differs from a distinct count of new-logo wins "
        f"(12 months): {off:,} (of {partners_with_logos:,} partners with any)"
    )
    ratio = first["wall"] / floor_s
    print(f"  close / floor: {ratio:.1f}x (rerun {second['wall'] / floor_s:.1f}x)")
    narrow_times, _ = run_floor(FLOOR_SQL, floor_params(quarter, facts["t12m"]), args.floor_runs)
    narrow_s = statistics.median(narrow_times)
    print(
        f"  for comparison, the scorecard's inputs alone (FLOOR_SQL): median {narrow_s:.3f} s; "
        f"close / that: {first['wall'] / narrow_s:.1f}x (rerun {second['wall'] / narrow_s:.1f}x)"
    )

    peak_rss = max(first["after"]["max_rss"], second["after"]["max_rss"])
    traced = third["traced_peak"] or 0
    print("\ntargets:")
    print(
        f"  whole close <= {CLOSE_TARGET_S:g} s: {first['wall']:.1f} s "
        f"{yes(first['wall'] <= CLOSE_TARGET_S)} (rerun {second['wall']:.1f} s "
        f"{yes(second['wall'] <= CLOSE_TARGET_S)})"
    )
    print(
        f"  <= {FLOOR_RATIO_TARGET:g}x the SQL floor: {ratio:.1f}x "
        f"{yes(ratio <= FLOOR_RATIO_TARGET)}"
    )
    print(
        f"  memory < 1 GiB: peak RSS {peak_rss / GIB:.2f} GiB {yes(peak_rss < MEMORY_TARGET)}, "
        f"tracemalloc peak {traced / GIB:.2f} GiB {yes(traced < MEMORY_TARGET)}"
    )
    print(
        f"  what-if <= {WHAT_IF_RATIO_TARGET:g}x the close: {what_if_ratio:.2f}x "
        f"{yes(what_if_ratio <= WHAT_IF_RATIO_TARGET)}"
    )
    print(f"\ntotal run time: {time.perf_counter() - overall:.1f} s")


if __name__ == "__main__":
    main()
