"""Every page at scale: each URL pattern, as each role, on a book of 2,000,000 deals.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/prm_bench_pages \\
        .venv/bin/python bench/pages.py --save-copy prm_bench_pages_book

Again on the book already loaded (``--keep``: this database as it is; ``--from-copy``: a
fresh copy of the saved book, migrated to the code's migrations first, so new indexes
are built on it):

    ... bench/pages.py --keep
    ... bench/pages.py --from-copy prm_bench_pages_book

A small book, whose statement counts the big one is compared with (a page whose count
grows with the rows differs between the two):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/prm_bench_pages_small \\
        .venv/bin/python bench/pages.py --small --save-counts /tmp/pages-small.json
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/prm_bench_pages \\
        .venv/bin/python bench/pages.py --keep --compare-counts /tmp/pages-small.json

The book (unless ``--keep`` or ``--from-copy``): recreates the throwaway database named in
DATABASE_URL, migrates it and bulk-loads with the set-based SQL of
``bench/quarter_close.py`` (20,000 partners in a tier pyramid with 3-6 people each,
certifications, login days, trainings, events, 1,000,000 customer accounts, 2,000,000
deals over six quarters, earlier scorecards), closes the last quarter through the service
(scorecards, tier changes, red flags, rebates, awards, MDF funds), sums the deals per
quarter (the nightly job), schedules and prepares this quarter's QBRs (the quarterly job),
then adds with set-based SQL: 1,000,000 ledger entries (every kind and status), incentive
claims grouping the claimed SPIFFs and bonuses, 2,000,000 portal notices (for a whole
partner or for one person; each person has seen them up to some day, or never), CRM
leads, conflict cases, MDF requests and claims, contributions, campaigns; and a few
content items. Partners are skewed as the deals are: the lowest ids have the most.
VACUUM ANALYZE, CHECKPOINT.

The walk, in this process with Django's test client: one user per role, signed in as the
pages sign them in — partner admin and partner rep of the partner with the most deals,
that partner's channel manager, a channel chief, an executive, finance and an admin (the
staff with an authenticator app, as two-factor sign-in requires); the API with each
one's token. Every URL pattern of the project (portal pages, dashboards, the admin's
index, changelists, change, history and custom pages of every registered model, the
API's lists and details) is filled in with real ids from the book (rows of that partner)
and requested once as each role; each that answers 200 is requested ``--runs`` times
more. Sign-in and language pages (``/auth/``, ``/i18n/``) are not walked, nor (without
``--delete-pages``) the admin's delete confirmations: each lists every row the deletion
would take with it, which for a program or a partner is its whole book. Prints, per URL
and role, p50 and p95 in ms and the number of SQL statements of one request; then the ten
slowest, the constant view (``GET /healthz/``, no database) measured in the same run, the
load average, and whether the targets hold: every page's p95 < 300 ms, and (with
``--compare-counts``) every page's statement count the same on the small book. Files (the
QBR and board PDFs, the CSV exports: answers with a file name) are printed apart, slowest
first: a document's time grows with what it holds. Asserts nothing.
"""

import argparse
import json
import os
import re
import statistics
import sys
import time
from datetime import date

from benchdb import recreate_database, save_database

TARGET_P95_MS = 300.0
PASSWORD = "bench-Pages-2026"
SKIP_PREFIXES = ("auth/", "i18n/")


# ---------------------------------------------------------------- the bulk load

# Skewed as the deals are (quarter_close.DEALS_SQL): partner ids[1 + floor(n * r^2)].
LEDGER_SQL = """
WITH p AS (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n FROM partners_partner),
raw AS (
    SELECT g, random() AS r, random() AS r2, random() AS r3,
           current_date - floor(random() * 548)::int AS earned
    FROM generate_series(1, %(ledger)s) AS g
),
shaped AS (
    SELECT raw.*,
           CASE WHEN r < 0.40 THEN 'spiff' WHEN r < 0.65 THEN 'commission'
                WHEN r < 0.80 THEN 'bonus' WHEN r < 0.90 THEN 'rebate'
                WHEN r < 0.95 THEN 'award' ELSE 'mdf' END AS kind,
           CASE WHEN earned < current_date - 90 THEN
                    CASE WHEN r2 < 0.70 THEN 'paid' WHEN r2 < 0.75 THEN 'void'
                         WHEN r2 < 0.85 THEN 'approved' ELSE 'accrued' END
                ELSE CASE WHEN r2 < 0.15 THEN 'paid' WHEN r2 < 0.50 THEN 'approved'
                          ELSE 'accrued' END
           END AS status
    FROM raw
)
INSERT INTO incentives_ledgerentry (
    partner_id, kind, code, description, amount, currency, partner_amount, partner_currency,
    partner_rate, source_type_id, source_id,
    source_label, quarter, earned_on, claim_by, status, due_on, idempotency_key, claim_id,
    approved_at, approved_by_id, paid_at, paid_by_id, paid_amount, paid_rate,
    payment_reference, voided_at, void_reason, created_at, description_message,
    description_params
)
SELECT p.ids[1 + floor(p.n * random() ^ 2)::int],
       kind,
       kind || '_' || (1 + mod(g, 4)),
       initcap(kind) || ' on deal ' || g,
       round((50 + 19950 * r3 ^ 3)::numeric, 2),
       'USD',
       round((50 + 19950 * r3 ^ 3)::numeric, 2),
       'USD',
       1,
       NULL, NULL, 'Deal ' || g,
       extract(year FROM earned)::int || 'Q' || extract(quarter FROM earned)::int,
       earned,
       CASE WHEN kind IN ('spiff', 'bonus') THEN earned + 90 END,
       status,
       CASE WHEN status IN ('approved', 'paid') THEN earned + 45 END,
       'bench-ledger-' || g,
       NULL,
       CASE WHEN status IN ('approved', 'paid') THEN (earned + 10)::timestamptz END,
       NULL,
       CASE WHEN status = 'paid' THEN least(now(), (earned + 40)::timestamptz) END,
       NULL,
       CASE WHEN status = 'paid' THEN round((50 + 19950 * r3 ^ 3)::numeric, 2) END,
       CASE WHEN status = 'paid' THEN 1 END,
       CASE WHEN status = 'paid' THEN 'PAY-' || g ELSE '' END,
       CASE WHEN status = 'void' THEN (earned + 20)::timestamptz END,
       CASE WHEN status = 'void' THEN 'Deal reopened' ELSE '' END,
       earned::timestamptz, '', '{}'
FROM shaped, p
"""

# The earlier closes' scorecards of the quarter-close bench carry no inputs; the portal
# shows them with tips drawn from their inputs: those of the close just run.
HISTORY_INPUTS_SQL = """
UPDATE scoring_scorecard s SET inputs = c.inputs
FROM scoring_scorecard c
WHERE c.partner_id = s.partner_id AND c.quarter = %(closed)s AND s.inputs = '{}'::jsonb
"""

# An account belongs to the partner that first won it (partners.services on a win).
OWNERS_SQL = """
UPDATE partners_account a SET owning_partner_id = w.partner_id
FROM (SELECT DISTINCT ON (account_id) account_id, partner_id FROM deals_deal
      WHERE status = 'won' ORDER BY account_id, closed_on, id) AS w
WHERE w.account_id = a.id
"""

# The QBRs of the partners' first ids are shared with them (the portal shows shared ones).
QBRS_SHARED_SQL = """
UPDATE scoring_qbr SET shared_with_partner = true, shared_at = now()
WHERE mod(id, 2) = 1 OR partner_id IN (SELECT id FROM partners_partner ORDER BY id LIMIT 10)
"""

# One claim per partner and quarter for its approved or paid SPIFFs and bonuses, and the
# entries pointed at it; the newest quarter's still awaiting verification.
CLAIMS_SQL = """
WITH groups AS (
    SELECT partner_id, quarter, sum(amount) AS amount, max(earned_on) AS last
    FROM incentives_ledgerentry
    WHERE kind IN ('spiff', 'bonus') AND status IN ('approved', 'paid')
    GROUP BY partner_id, quarter
),
made AS (
    INSERT INTO incentives_incentiveclaim (
        partner_id, amount, note, status, submitted_at, submitted_by_id, verify_by,
        overdue_flagged_at, decided_at, decided_by_id, rejection_reason, disputed_at,
        disputed_by_id, dispute_reason, dispute_decided_at, dispute_decided_by_id, dispute_note
    )
    SELECT partner_id, amount, 'Claim for ' || quarter,
           CASE WHEN last > current_date - 20 THEN 'submitted' ELSE 'approved' END,
           least(now(), (last + 5)::timestamptz), NULL, last + 15, NULL,
           CASE WHEN last > current_date - 20 THEN NULL
                ELSE least(now(), (last + 9)::timestamptz) END,
           NULL, '', NULL, NULL, '', NULL, NULL, ''
    FROM groups
    RETURNING id, partner_id, note
)
UPDATE incentives_ledgerentry e SET claim_id = made.id
FROM made
WHERE made.partner_id = e.partner_id AND made.note = 'Claim for ' || e.quarter
  AND e.kind IN ('spiff', 'bonus') AND e.status IN ('approved', 'paid')
"""

# Three in ten for everyone at the partner, the rest for one of its first three people.
NOTICES_SQL = """
WITH p AS (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n FROM partners_partner),
raw AS (
    SELECT g, 1 + floor(p.n * random() ^ 2)::int AS k, random() AS r,
           now() - random() * interval '548 days' AS at
    FROM generate_series(1, %(notices)s) AS g, p
)
INSERT INTO partners_notice (partner_id, user_id, level, text, link, created_at,
                             kind, message, params)
SELECT p.ids[k],
       CASE WHEN r < 0.3 THEN NULL
            ELSE (SELECT m.user_id FROM partners_partneruser m
                  WHERE m.partner_id = p.ids[k] ORDER BY m.id
                  OFFSET mod(g, 3) LIMIT 1) END,
       (ARRAY['info', 'success', 'warning'])[1 + mod(g, 3)],
       'Notice ' || g || ': your registration was decided',
       '/portal/deals/',
       at,
       'deals', '', '{}'
FROM raw, p
"""

# Half the people have never opened their notices; the others saw them up to a day in the
# last two months.
NOTICES_SEEN_SQL = """
UPDATE partners_partneruser
SET notices_seen_at = CASE WHEN mod(id, 2) = 0 THEN now() - random() * interval '60 days' END
"""

LEADS_SQL = """
WITH p AS (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n FROM partners_partner),
raw AS (SELECT i, random() AS r, now() - random() * interval '730 days' AS created
        FROM generate_series(1, %(leads)s) AS i)
INSERT INTO partners_lead
    (company_name, name_key, domain, domain_key, source, created_at, account_id, partner_id,
     status, specialty, language, close_note, accepted_at)
SELECT 'Prospect ' || i || ' Ltd', 'prospect ' || i,
       CASE WHEN mod(i, 5) = 0 THEN '' ELSE 'prospect' || i || '.example' END,
       CASE WHEN mod(i, 5) = 0 THEN '' ELSE 'prospect' || i || '.example' END,
       (ARRAY['inbound', 'outbound', 'event', 'webinar', 'referral', 'other'])
           [1 + floor(random() * 6)::int],
       created,
       NULL,
       CASE WHEN r < 0.3 THEN p.ids[1 + floor(p.n * random() ^ 2)::int] END,
       CASE WHEN r < 0.3 THEN 'accepted' ELSE 'new' END,
       '', '', '',
       CASE WHEN r < 0.3 THEN created + random() * interval '40 hours' END
FROM raw, p
"""

# Each accepted lead's offer, and a declined or unanswered offer for one lead in five of the
# others (the acceptance rate and the time to accept read these).
LEAD_OFFERS_SQL = """
WITH p AS (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n FROM partners_partner)
INSERT INTO partners_leadoffer
    (lead_id, partner_id, kind, rule_id, offered_by_id, offered_at, expires_at, answer,
     answered_at, answered_by_id, decline_reason, decline_note)
SELECT l.id, l.partner_id, 'rule', NULL::bigint, NULL::bigint, l.created_at,
       l.created_at + interval '48 hours',
       'accepted', l.accepted_at, NULL::bigint, '', ''
FROM partners_lead l WHERE l.status = 'accepted'
UNION ALL
SELECT l.id, p.ids[1 + floor(p.n * random() ^ 2)::int], 'rule', NULL, NULL, l.created_at,
       l.created_at + interval '48 hours',
       CASE WHEN mod(l.id, 2) = 0 THEN 'declined' ELSE 'expired' END,
       CASE WHEN mod(l.id, 2) = 0 THEN l.created_at + interval '20 hours'
            ELSE l.created_at + interval '48 hours' END,
       NULL, CASE WHEN mod(l.id, 2) = 0 THEN 'poor_fit' ELSE '' END, ''
FROM partners_lead l, p WHERE l.status = 'new' AND mod(l.id, 5) = 0
"""

# A case for each of a share of the deals rejected as another partner's customer.
CONFLICTS_SQL = """
INSERT INTO deals_conflictcase (
    scenario, account_id, partner_id, other_partner_id, deal_id, other_deal_id, direct_rep,
    status, opened_at, sla_due_at, escalation_step, escalated_at, resolution, resolved_at,
    resolved_by_id
)
SELECT 'two_partners', d.account_id, d.partner_id,
       p.ids[1 + mod(d.id, p.n)::int], d.id, NULL, '',
       CASE WHEN d.submitted_at > now() - interval '3 days' THEN 'open' ELSE 'resolved' END,
       d.submitted_at, d.submitted_at + interval '24 hours', 'none', NULL,
       CASE WHEN d.submitted_at > now() - interval '3 days' THEN ''
            ELSE 'The first registration stands.' END,
       CASE WHEN d.submitted_at > now() - interval '3 days' THEN NULL
            ELSE d.submitted_at + interval '20 hours' END,
       NULL
FROM deals_deal d, (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n
                    FROM partners_partner) AS p
WHERE d.status = 'rejected' AND d.reason = 'registered_by_another_partner'
  AND mod(d.id, 2) = 0
"""

MDF_FUNDS_SQL = """
INSERT INTO incentives_mdffund (partner_id, fiscal_year, amount, match_ratio, basis, reserved,
                                reimbursed, created_at, basis_message, basis_params)
SELECT p.id, y, 250000, 0.5, 'Bench allocation', 0, 0, now(), '', '{}'
FROM partners_partner p, unnest(%(years)s::int[]) AS y
ON CONFLICT (partner_id, fiscal_year) DO NOTHING
"""

MDF_REQUESTS_SQL = """
WITH p AS (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n FROM partners_partner),
raw AS (
    SELECT g, p.ids[1 + floor(p.n * random() ^ 2)::int] AS partner_id, random() AS r,
           current_date - floor(random() * 500)::int AS starts
    FROM generate_series(1, %(mdf)s) AS g, p
)
INSERT INTO incentives_mdfrequest (
    partner_id, fund_id, activity_type, title, description, planned_cost, starts_on, ends_on,
    expected_leads, campaign_id, status, reserved_amount, claim_due_on, submitted_at,
    submitted_by_id, decided_at, decided_by_id, decision_note
)
SELECT raw.partner_id, f.id,
       (ARRAY['event', 'digital_ads', 'content', 'webinar', 'case_study'])[1 + mod(g, 5)],
       'Activity ' || g, 'Bench activity', round((1000 + 24000 * r)::numeric, 2),
       starts, starts + 14, 10 + mod(g, 90), NULL,
       CASE WHEN starts > current_date - 30 THEN
                CASE WHEN r < 0.5 THEN 'submitted' ELSE 'approved' END
            WHEN r < 0.1 THEN 'rejected' WHEN r < 0.15 THEN 'cancelled'
            WHEN r < 0.25 THEN 'expired' WHEN r < 0.4 THEN 'claimed' ELSE 'reimbursed' END,
       0, starts + 74, (starts - 20)::timestamptz, NULL,
       CASE WHEN starts > current_date - 30 AND r < 0.5 THEN NULL
            ELSE (starts - 18)::timestamptz END,
       NULL, ''
FROM raw
JOIN incentives_mdffund f ON f.partner_id = raw.partner_id
                         AND f.fiscal_year = extract(year FROM raw.starts)::int
"""

MDF_CLAIMS_SQL = """
INSERT INTO incentives_mdfclaim (request_id, partner_id, actual_cost, leads_generated, notes,
                                 status, reimbursement, submitted_at, submitted_by_id,
                                 decided_at, decided_by_id, reason)
SELECT r.id, r.partner_id, round(r.planned_cost * 0.9, 2), r.expected_leads, '',
       CASE WHEN r.status = 'claimed' THEN 'submitted' ELSE 'approved' END,
       CASE WHEN r.status = 'reimbursed' THEN round(r.planned_cost * 0.45, 2) END,
       (r.ends_on + 10)::timestamptz, NULL,
       CASE WHEN r.status = 'reimbursed' THEN (r.ends_on + 20)::timestamptz END, NULL, ''
FROM incentives_mdfrequest r WHERE r.status IN ('claimed', 'reimbursed')
"""

CONTRIBUTIONS_SQL = """
WITH p AS (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n FROM partners_partner)
INSERT INTO incentives_contribution (partner_id, kind, title, url, description, status,
                                     submitted_at, submitted_by_id, decided_at, decided_by_id,
                                     reason)
SELECT p.ids[1 + floor(p.n * random() ^ 2)::int],
       CASE WHEN mod(g, 3) = 0 THEN 'reference' ELSE 'community' END,
       'Contribution ' || g, '', '',
       (ARRAY['submitted', 'approved', 'approved', 'rejected'])[1 + mod(g, 4)],
       now() - random() * interval '500 days', NULL, NULL, NULL, ''
FROM generate_series(1, %(contributions)s) AS g, p
"""

CAMPAIGNS_SQL = """
WITH p AS (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n FROM partners_partner),
act AS (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n
        FROM enablement_comarketingactivity)
INSERT INTO enablement_campaign (partner_id, activity_id, name, starts_on, ends_on,
                                 expected_leads, status, notes, created_by_id, created_at)
SELECT p.ids[1 + floor(p.n * random() ^ 2)::int], act.ids[1 + mod(g, act.n)],
       'Campaign ' || g, current_date - mod(g, 400), current_date - mod(g, 400) + 30,
       20 + mod(g, 80), (ARRAY['planned', 'running', 'done', 'done'])[1 + mod(g, 4)],
       '', NULL, now() - random() * interval '400 days'
FROM generate_series(1, %(campaigns)s) AS g, p, act
WHERE act.n > 0
"""


def run_sql(cur, label: str, sql: str, params: dict) -> tuple[str, int, float]:
    start = time.perf_counter()
    cur.execute(sql, params)
    return label, cur.rowcount, time.perf_counter() - start


def load_book(args) -> None:
    """The quarter-close bench's book, closed and summed, plus what every other page reads."""
    from django.core.management import call_command
    from django.db import connection
    from quarter_close import describe, load

    from deals.services import deal_quarters_summarize
    from prm.quarters import Quarter
    from scoring.services.close import quarter_close
    from scoring.services.reviews import qbr_schedule_quarter

    today = date.today()
    quarter = Quarter.containing(today).previous()
    connection.close()
    start = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"migrate: {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    timings = load(args, quarter)
    facts = describe(quarter)
    print(
        f"bulk load (bench/quarter_close.py): {time.perf_counter() - start:.1f} s for "
        f"{args.partners:,} partners, {args.deals:,} deals; deals_deal {facts['deal_size']}"
    )
    for label, rows, seconds in timings:
        count = f"{rows:>10,} rows" if rows is not None and rows >= 0 else " " * 15
        print(f"  {label:<22} {count} {seconds:7.1f} s")
    start = time.perf_counter()
    quarter_close(quarter=quarter.label, notify=False)
    print(f"quarter close of {quarter.label}: {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    summed = deal_quarters_summarize(today=today)
    print(f"deal sums of {len(summed)} quarters: {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    qbrs = qbr_schedule_quarter(today=today)
    print(f"QBRs of this quarter: {qbrs} in {time.perf_counter() - start:.1f} s")

    params = {
        "ledger": args.ledger,
        "notices": args.notices,
        "leads": max(1, args.deals // 10),
        "mdf": max(1, args.partners * 3),
        "contributions": max(1, args.partners),
        "campaigns": max(1, args.partners // 2),
        "years": [today.year - 1, today.year],
        "closed": quarter.label,
    }
    steps = [
        ("earlier scorecards' inputs", HISTORY_INPUTS_SQL),
        ("account owners", OWNERS_SQL),
        ("QBRs shared", QBRS_SHARED_SQL),
        ("ledger entries", LEDGER_SQL),
        ("incentive claims", CLAIMS_SQL),
        ("notices", NOTICES_SQL),
        ("notices seen", NOTICES_SEEN_SQL),
        ("CRM leads", LEADS_SQL),
        ("lead offers", LEAD_OFFERS_SQL),
        ("conflict cases", CONFLICTS_SQL),
        ("MDF funds", MDF_FUNDS_SQL),
        ("MDF requests", MDF_REQUESTS_SQL),
        ("MDF claims", MDF_CLAIMS_SQL),
        ("contributions", CONTRIBUTIONS_SQL),
        ("campaigns", CAMPAIGNS_SQL),
    ]
    with connection.cursor() as cur:
        cur.execute("SET synchronous_commit = off")
        cur.execute("SET work_mem = '256MB'")
        cur.execute("SET session_replication_role = replica")
        for label, sql in steps:
            label, rows, seconds = run_sql(cur, label, sql, params)
            print(f"  {label:<28} {rows:>10,} rows {seconds:7.1f} s")
        cur.execute("SET session_replication_role = origin")
    content_items()
    with connection.cursor() as cur:
        start = time.perf_counter()
        cur.execute("VACUUM ANALYZE")
        cur.execute("CHECKPOINT")
        print(f"  VACUUM ANALYZE, CHECKPOINT {time.perf_counter() - start:.1f} s")
    connection.close()


def content_items() -> None:
    from enablement.models import ContentItem
    from partners.models import Program

    program = Program.objects.get(is_default=True)
    ContentItem.objects.bulk_create(
        ContentItem(
            program=program,
            title=f"Battle card {n}",
            kind="battle_card" if n % 2 else "playbook",
            url=f"https://vendor.example/content/{n}",
            min_tier_rank=n % 3,
            published=True,
        )
        for n in range(40)
    )


# ---------------------------------------------------------------- who walks


def staff(username: str, role: str, *, superuser: bool = False):
    from allauth.mfa.models import Authenticator

    from partners.models import User
    from tests.factories import mfa_enrol

    user, created = User.objects.get_or_create(
        username=username,
        defaults={"role": role, "is_staff": True, "is_superuser": superuser},
    )
    if created or not user.is_staff:
        user.is_staff = True
        user.set_password(PASSWORD)
        user.save()
    if not Authenticator.objects.filter(user=user).exists():
        mfa_enrol(user)
    return user


def walkers() -> tuple[dict, dict]:
    """One user per role, and the book's rows the URLs are filled in with: the partner
    with the most deals, and of each model a row of that partner (its newest)."""
    from django.db import connection

    from partners.models import Partner, PartnerRole, PartnerUser
    from prm.roles import Role

    with connection.cursor() as cur:
        cur.execute(
            "SELECT partner_id FROM deals_deal GROUP BY partner_id ORDER BY count(*) DESC LIMIT 1"
        )
        focus = Partner.objects.get(pk=cur.fetchone()[0])
    members = PartnerUser.objects.filter(partner=focus, user__is_active=True).select_related("user")
    admin = next(m.user for m in members if m.role == PartnerRole.ADMIN)
    rep = next(m.user for m in members if m.role == PartnerRole.REP)
    manager = focus.channel_manager
    if not manager.is_staff:
        manager.is_staff = True
        manager.save(update_fields=["is_staff"])
    staff(manager.username, Role.CHANNEL_MANAGER)
    users = {
        "partner admin": admin,
        "partner rep": rep,
        "channel manager": manager,
        "channel chief": staff("bench-chief", Role.CHANNEL_CHIEF),
        "executive": staff("bench-exec", Role.EXECUTIVE),
        "finance": staff("bench-finance", Role.FINANCE),
        "admin": staff("bench-admin", Role.ADMIN, superuser=True),
    }
    return users, {"partner": focus}


def row_of(model, focus):
    """A row of ``model`` for the URL's id: the focus partner's newest where the model
    belongs to a partner, else the first; None when the book has none."""
    from partners.models import Account, Partner, User

    manager = model._default_manager
    names = {f.name for f in model._meta.get_fields()}
    if model is Partner:
        return focus
    if model is User:
        return manager.filter(membership__partner=focus).order_by("pk").first() or (
            manager.order_by("pk").first()
        )
    if model is Account:
        return manager.filter(owning_partner=focus).order_by("-pk").first()
    if "partner" in names:
        return manager.filter(partner=focus).order_by("-pk").first()
    if "request" in names:
        return manager.filter(request__partner=focus).order_by("-pk").first()
    if "qbr" in names:
        return manager.filter(qbr__partner=focus).order_by("-pk").first()
    return manager.order_by("pk").first()


# ---------------------------------------------------------------- the URLs


def all_patterns():
    """(route, pattern, the resolvers above it) of every URL pattern of the project."""
    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(resolver, prefix, parents):
        for item in resolver.url_patterns:
            route = prefix + str(item.pattern)
            if isinstance(item, URLResolver):
                yield from walk(item, route, parents + [item])
            elif isinstance(item, URLPattern):
                yield route, item, parents

    yield from walk(get_resolver(), "", [])


PARAM = re.compile(r"\(\?P<(\w+)>[^)]*\)|<(?:\w+:)?(\w+)>")
# django-simple-history's page of one version: an object id and a version id, unnamed
UNNAMED = re.compile(r"\(\[\^/\]\+\)")


def fill(route: str, values: dict) -> str | None:
    """The route with its parameters replaced by ``values``; None if one is missing."""
    missing = []

    def swap(match):
        name = match.group(1) or match.group(2)
        if values.get(name) is None:
            missing.append(name)
            return ""
        return str(values[name])

    path = PARAM.sub(swap, route)
    for name in ("object_id", "version_id"):
        if UNNAMED.search(path):
            if values.get(name) is None:
                return None
            path = UNNAMED.sub(str(values[name]), path, count=1)
    if missing:
        return None
    path = path.replace("^", "").replace("$", "").replace("\\.", ".").replace("\\", "")
    return "/" + path


def model_of_viewset(cls):
    queryset = getattr(cls, "queryset", None)
    if queryset is not None:
        return queryset.model
    meta = getattr(getattr(cls, "serializer_class", None), "Meta", None)
    return getattr(meta, "model", None)


# Portal pages: the model behind each name's ``pk``.
PORTAL_MODELS = {
    "portal-deal": "deals.Deal",
    "portal-deal-extend": "deals.Deal",
    "portal-deal-review": "deals.Deal",
    "portal-partner": "partners.Partner",
    "portal-claim": "incentives.IncentiveClaim",
    "portal-claim-dispute": "incentives.IncentiveClaim",
    "portal-mdf-request": "incentives.MdfRequest",
    "portal-mdf-claim": "incentives.MdfRequest",
    "portal-mdf-cancel": "incentives.MdfRequest",
    "portal-content-open": "enablement.ContentItem",
    "portal-campaign": "enablement.Campaign",
    "portal-campaign-lead": "enablement.Campaign",
    "portal-qbr": "scoring.Qbr",
    "qbr-print": "scoring.Qbr",
    "qbr-pdf": "scoring.Qbr",
    "incentives:proof": "incentives.MdfProof",
}


def urls_to_walk(
    focus, *, delete_pages: bool = False
) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(kind, pattern, URL) of every pattern that can be filled in, and the patterns that cannot."""
    from django.apps import apps
    from django.contrib import admin

    from prm.quarters import Quarter

    rows: dict = {}

    def pk_of(model):
        if model not in rows:
            row = row_of(model, focus) if model is not None else None
            rows[model] = None if row is None else row.pk
        return rows[model]

    quarter = Quarter.containing(date.today()).previous()
    admin_models = {f"{m._meta.app_label}/{m._meta.model_name}/": m for m in admin.site._registry}
    walk, skipped, seen = [], [], set()
    for route, pattern, parents in all_patterns():
        if route.startswith(SKIP_PREFIXES) or "format" in route or "(?P<url>" in route:
            continue
        if not delete_pages and route.startswith("admin/") and route.endswith("/delete/"):
            continue
        name = pattern.name or ""
        values: dict = {"quarter": quarter.label, "export": "top-partners"}
        if route.startswith("admin/"):
            kind = "admin"
            rest = route[len("admin/") :]
            model = next((m for p, m in admin_models.items() if rest.startswith(p)), None)
            values["app_label"] = "deals"
            if model is not None:
                values["object_id"] = values["pk"] = pk_of(model)
                values["decision"] = "approve"
                history = getattr(model, "history", None)
                if "history/" in route:
                    values["version_id"] = (
                        history.filter(pk=values["pk"])
                        .values_list("history_id", flat=True)
                        .order_by("-history_id")
                        .first()
                        if history is not None and values["pk"] is not None
                        else None
                    )
        elif route.startswith("api/v1/"):
            kind = "api"
            cls = getattr(pattern.callback, "cls", None)
            model = model_of_viewset(cls) if cls is not None else None
            values["partner_pk"] = focus.pk
            values["pk"] = pk_of(model)
        else:
            kind = "page"
            label = PORTAL_MODELS.get(
                f"{parents[-1].namespace}:{name}" if parents and parents[-1].namespace else name
            )
            if label:
                values["pk"] = pk_of(apps.get_model(label))
        url = fill(route, values)
        if url is None:
            skipped.append(route)
        elif url not in seen:
            seen.add(url)
            walk.append((kind, route, url))
    return walk, skipped


# ---------------------------------------------------------------- measuring


def clients(users: dict) -> dict:
    """A signed-in test client per role for the pages, and one with the role's token for
    the API."""
    from django.test import Client

    from partners.services import api_token_issue

    made = {}
    for role, user in users.items():
        # an error is an answer to count (a 500), not the end of the walk
        page = Client(raise_request_exception=False)
        page.force_login(user)
        _, text = api_token_issue(user=user, client="bench")
        api = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {text}")
        made[role] = (page, api)
    return made


def timed(client, url: str) -> tuple[float, int, int, bool]:
    """Seconds, status, statements, and whether the answer is a file (a PDF, a CSV: a
    ``Content-Disposition`` with a file name) rather than a page."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    connection.queries_log.clear()  # a full log (9,000) would count nothing
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        response = client.get(url)
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)
        seconds = time.perf_counter() - start
    is_file = "filename=" in response.get("Content-Disposition", "")
    return seconds, response.status_code, len(queries.captured_queries), is_file


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(len(ordered) * share) - 1))]


# A page slower than this on its first answer is timed SLOW_RUNS times, not --runs (the
# QBR's PDF of a large partner takes tens of seconds; its figure is no less clear).
SLOW_S = 5.0
SLOW_RUNS = 2


def measure(client, url: str, runs: int) -> dict:
    seconds, status, statements, is_file = timed(client, url)  # warm-up, and who may see it
    if status != 200:
        return {"status": status}
    if seconds > SLOW_S:
        runs = min(runs, SLOW_RUNS)
    samples, counts = [], set()
    for _ in range(runs):
        seconds, status, statements, _ = timed(client, url)
        samples.append(seconds * 1000)
        counts.add(statements)
    return {
        "status": 200,
        "p50": statistics.median(samples),
        "p95": percentile(samples, 0.95),
        "statements": max(counts),
        "varies": len(counts) > 1,
        "file": is_file,
    }


def badge_figures(runs: int) -> dict:
    """The notice badge alone (``partners.queries.unread_notice_count``, on every portal
    page), for every person of the ten partners with the most notices, as the book has
    them (half never opened their notices, the others up to a day in the last 60 days):
    now, and as it was (``badge_before``) without the index the count uses now."""
    from django.db import connection

    from partners.models import PartnerUser

    with connection.cursor() as cur:
        cur.execute(
            "SELECT partner_id FROM partners_notice GROUP BY 1 ORDER BY count(*) DESC LIMIT 10"
        )
        partners = [row[0] for row in cur.fetchall()]
    people = list(PartnerUser.objects.filter(partner_id__in=partners).select_related("user"))
    figures = time_badges([(m.user, m.partner_id) for m in people], runs)
    figures["people"] = len(people)
    figures["never_seen"] = sum(m.notices_seen_at is None for m in people)
    return figures


def time_badges(people: list, runs: int) -> dict:
    """p50 and p95 of the badge's count for ``people`` ((user, partner id) pairs), now and
    as it was; the latter with the new index dropped in a transaction rolled back."""
    from django.db import connection, transaction

    from partners.queries import unread_notice_count

    figures = {}
    for label, count in (("now", unread_notice_count), ("before", badge_before)):
        with transaction.atomic():
            if label == "before":
                with connection.cursor() as cur:
                    cur.execute("DROP INDEX IF EXISTS notice_partner_user_created")
            samples = []
            for user, partner_id in people:
                count(user, partner_id)  # warm-up
                for _ in range(runs):
                    start = time.perf_counter()
                    count(user, partner_id)
                    samples.append((time.perf_counter() - start) * 1000)
            figures[label] = {"p50": statistics.median(samples), "p95": percentile(samples, 0.95)}
            transaction.set_rollback(True)
    return figures


def badge_before(user, partner_id) -> int:
    """The badge's count as it was before the (partner, user, created_at) index: one range
    of the partner's notices by date, each row read to see whom it is for."""
    from django.db.models import Q

    from partners.models import Notice
    from partners.queries import UNREAD_BADGE_MAX, _notices_seen_at

    return (
        Notice.objects.filter(partner=partner_id, created_at__gt=_notices_seen_at(user))
        .filter(Q(user__isnull=True) | Q(user=user))
        .order_by()[: UNREAD_BADGE_MAX + 1]
        .count()
    )


def badge_crowd(runs: int, focus) -> dict:
    """The badge's worst case, added to the book and rolled back: a partner whose 100
    colleagues get 100,000 notices of their own, with 50 for everyone and 20 for one person
    who never opened them. Times the count now (``unread_notice_count``) and as it was
    (``badge_before``, without the index the count uses now), on the same rows."""
    from django.db import connection, transaction

    from partners.models import Partner, PartnerUser, User
    from partners.queries import unread_notice_count

    figures = {}
    with transaction.atomic():
        partner = Partner.objects.create(
            program=focus.program,
            tier=focus.tier,
            name="Crowded Partner",
            domain="crowded.example",
            domain_key="crowded.example",
        )
        people = User.objects.bulk_create(
            User(username=f"crowd{n}", email=f"crowd{n}@crowded.example", password="!")
            for n in range(101)
        )
        PartnerUser.objects.bulk_create(
            PartnerUser(partner=partner, user=person, role="rep") for person in people
        )
        person, colleagues = people[0], [p.pk for p in people[1:]]
        with connection.cursor() as cur:
            cur.execute(
                "INSERT INTO partners_notice "
                "(partner_id, user_id, level, text, link, created_at, kind, message, params) "
                "SELECT %s, CASE WHEN g <= 50 THEN NULL WHEN g <= 70 THEN %s "
                "ELSE (%s::bigint[])[1 + mod(g, 100)] END, 'info', 'Notice ' || g, '', "
                "now() - random() * interval '548 days', 'general', '', '{}' "
                "FROM generate_series(1, 100070) AS g",
                [partner.pk, person.pk, colleagues],
            )
            cur.execute("ANALYZE partners_notice")
        assert unread_notice_count(person, partner.pk) == badge_before(person, partner.pk) == 70
        figures = time_badges([(person, partner.pk)], runs)
        transaction.set_rollback(True)
    return figures


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=20_000)
    parser.add_argument("--deals", type=int, default=2_000_000)
    parser.add_argument("--ledger", type=int, default=1_000_000)
    parser.add_argument("--notices", type=int, default=2_000_000)
    parser.add_argument(
        "--small", action="store_true", help="a small book: 200 partners, 20,000 deals, …"
    )
    parser.add_argument("--runs", type=int, default=20, help="timed requests per URL")
    parser.add_argument("--keep", action="store_true", help="reuse the loaded database")
    parser.add_argument("--save-copy", metavar="DB", help="after the load, copy the book to DB")
    parser.add_argument("--from-copy", metavar="DB", help="start from a copy of DB")
    parser.add_argument("--only", metavar="REGEX", help="walk only the URLs matching this")
    parser.add_argument(
        "--delete-pages",
        action="store_true",
        help="walk the admin's delete confirmations too (each lists all an object takes with it)",
    )
    parser.add_argument("--roles", help="comma-separated roles to walk as (default: all)")
    parser.add_argument("--save-counts", metavar="FILE", help="write statement counts (JSON)")
    parser.add_argument(
        "--compare-counts", metavar="FILE", help="compare statement counts with FILE's"
    )
    parser.add_argument("--json", metavar="FILE", help="write every figure (JSON)")
    args = parser.parse_args()
    if args.small:
        args.partners, args.deals, args.ledger, args.notices = 200, 20_000, 10_000, 20_000
    sys.stdout.reconfigure(line_buffering=True)
    overall = time.perf_counter()

    if not args.keep:
        recreate_database(template=args.from_copy)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    settings.ALLOWED_HOSTS = ["*"]
    if args.keep or args.from_copy:
        start = time.perf_counter()
        call_command("migrate", verbosity=0)  # a book saved before newer migrations
        print(f"migrate: {time.perf_counter() - start:.1f} s")
    else:
        load_book(args)
        if args.save_copy:
            save_database(args.save_copy)
            print(f"book copied to {args.save_copy}")
    with connection.cursor() as cur:
        cur.execute(
            "SELECT (SELECT count(*) FROM partners_partner), (SELECT count(*) FROM deals_deal), "
            "(SELECT count(*) FROM incentives_ledgerentry), "
            "(SELECT count(*) FROM partners_notice), (SELECT count(*) FROM partners_user)"
        )
        partners, deals, ledger, notices, people = cur.fetchone()
    print(
        f"book: {partners:,} partners, {deals:,} deals, {ledger:,} ledger entries, "
        f"{notices:,} notices, {people:,} users"
    )

    users, book = walkers()
    focus = book["partner"]
    print(
        f"walking as the people of {focus} (id {focus.pk}, "
        f"{focus.deals.count():,} deals, {focus.notices.count():,} notices), "
        f"its manager {users['channel manager'].username} "
        f"({focus.channel_manager.managed_partners.count():,} partners)"
    )
    walk, skipped = urls_to_walk(focus, delete_pages=args.delete_pages)
    if args.only:
        walk = [item for item in walk if re.search(args.only, item[2])]
    roles = [r.strip() for r in args.roles.split(",")] if args.roles else list(users)
    sessions = clients({r: users[r] for r in roles})
    print(f"{len(walk)} URLs as {len(roles)} roles, {args.runs} timed requests each that answers")
    print(f"patterns not walked (no row in the book for their id): {', '.join(skipped) or 'none'}")
    print(f"load average at the start: {load_average()}\n")

    badge = badge_figures(args.runs)
    print(
        f"notice badge alone, {badge['people']} people of the 10 partners with the most "
        f"notices ({badge['never_seen']} never opened them): "
        + "; ".join(
            f"{k} p50 {badge[k]['p50']:.2f} ms, p95 {badge[k]['p95']:.2f} ms"
            for k in ("now", "before")
        )
    )
    crowd = badge_crowd(args.runs, focus)
    print(
        "notice badge of a person who never opened 70 notices among 100,070 of a partner "
        "whose colleagues get 100,000: "
        + "; ".join(
            f"{label} p50 {f['p50']:.2f} ms, p95 {f['p95']:.2f} ms" for label, f in crowd.items()
        )
        + "\n"
    )
    results = []
    for kind, route, url in walk:
        for role in roles:
            page, api = sessions[role]
            figures = measure(api if kind == "api" else page, url, args.runs)
            results.append({"kind": kind, "route": route, "url": url, "role": role, **figures})
            if figures["status"] == 200:
                print(
                    f"{figures['p50']:8.1f} {figures['p95']:8.1f} ms "
                    f"{figures['statements']:4d}{'~' if figures['varies'] else ' '} "
                    f"{role:<16} {url}"
                )
    from django.test import Client

    constant = measure(Client(), "/healthz/", max(args.runs, 50))
    answered = [r for r in results if r["status"] == 200]
    refused: dict = {}
    for r in results:
        if r["status"] != 200:
            refused.setdefault(r["status"], []).append(r)

    print(
        f"\n{len(answered)} URL-role pairs answered 200; others: "
        + ", ".join(f"{status} ×{len(rows)}" for status, rows in sorted(refused.items()))
    )
    for status in sorted(refused):
        if status >= 500:
            for r in refused[status]:
                print(f"  {status} {r['role']:<16} {r['url']}")
    print("\nthe ten slowest (p95):")
    for r in sorted(answered, key=lambda r: -r["p95"])[:10]:
        print(
            f"  p50 {r['p50']:8.1f}  p95 {r['p95']:8.1f} ms  {r['statements']:3d} statements  "
            f"{r['role']:<16} {r['url']}"
        )
    print(
        f"constant GET /healthz/: p50 {constant['p50']:.2f} ms, p95 {constant['p95']:.2f} ms, "
        f"{constant['statements']} statements"
    )
    print(f"load average at the end: {load_average()}")

    pages = [r for r in answered if not r.get("file")]
    files = [r for r in answered if r.get("file")]
    slow = [r for r in pages if r["p95"] >= TARGET_P95_MS]
    print(
        f"\ntargets:\n  every page's p95 < {TARGET_P95_MS:g} ms: {'yes' if not slow else 'NO'}",
        end="",
    )
    print(f" ({len(slow)} of {len(pages)} over)" if slow else f" ({len(pages)} pages)")
    # Files (the QBR and board PDFs, the CSV exports) are documents whose size is the data's:
    # their figures are printed, not held to a page's target.
    if files:
        print(f"  files, not held to the page target ({len(files)}); the slowest p95:")
        for r in sorted(files, key=lambda r: -r["p95"])[:5]:
            print(f"    p95 {r['p95']:8.1f} ms  {r['role']:<16} {r['url']}")
    # keyed by pattern, not URL: the ids differ from book to book
    counts = {f"{r['role']} {r['route']}": r["statements"] for r in answered}
    if args.compare_counts:
        with open(args.compare_counts) as handle:
            small = json.load(handle)
        grown = {
            key: (small[key], n) for key, n in counts.items() if key in small and n > small[key]
        }
        print(
            f"  statement counts as on the small book ({sum(k in small for k in counts)} "
            f"pages in both): {'yes' if not grown else 'NO'}"
        )
        for key, (before, now) in sorted(grown.items()):
            print(f"    {before} → {now}  {key}")
    if args.save_counts:
        with open(args.save_counts, "w") as handle:
            json.dump(counts, handle, indent=1, sort_keys=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(
                {"results": results, "constant": constant, "badge": badge, "crowd": crowd},
                handle,
                indent=1,
            )
    print(f"\ntotal run time: {time.perf_counter() - overall:.1f} s")


if __name__ == "__main__":
    main()
