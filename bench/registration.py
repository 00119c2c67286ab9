"""Deal registration at scale: the conflict check and a full registration on 1M accounts.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/prm_bench .venv/bin/python bench/registration.py

Quick run on a smaller book (deals default to the number of accounts, leads to a tenth):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/prm_bench \\
        .venv/bin/python bench/registration.py --accounts 100000

(``BENCH_ACCOUNTS=100000`` in the environment does the same; ``--samples`` sets the number
of timed calls per measurement, 300 by default.)

Recreates the throwaway PostgreSQL database named in DATABASE_URL (dropped and created),
migrates it, seeds the demo program (250 partners), then bulk-loads customer accounts,
deal registrations and CRM leads with set-based SQL (INSERT ... SELECT FROM
generate_series; secondary indexes dropped during the load and rebuilt after it, exactly
as the migrations define them), and ANALYZEs. It then times, per call:

a. the conflict check registration runs to decide (``deals.queries.customer_check``: the
   account by normalised key, its protecting registration and an earlier CRM lead in one
   query), through the real code, on random existing and new customer domains;
b. a full ``deals.services.deal_register`` for an active partner with a signed agreement,
   on new customer domains (a new account) and on existing free accounts (no open
   registration, no CRM lead). Each runs in ``transaction.atomic()`` and is rolled back
   (``set_rollback``), so the data does not grow and every sample sees the same book; the
   cost of the final COMMIT (a WAL flush) is therefore not in the target figures. A last,
   separate line times committed registrations of new customers, for comparison;
c. a bare indexed ``SELECT id FROM partners_account WHERE domain_key = %s`` on a raw cursor,
   on the same keys as (a), and the same lookup through the ORM (so the ORM's own cost per
   query shows separately from the database's).

Prints medians and 95th percentiles in milliseconds, the ratio of the conflict check's
median to the bare SELECT's, and whether the targets hold (conflict check < 5 ms,
registration < 25 ms, ratio <= 3x). Prints facts; asserts nothing.
"""

import argparse
import os
import random
import statistics
import time
import uuid
from datetime import timedelta

from benchdb import drop_secondary_indexes, recreate_database, resum_quarters

CONFLICT_TARGET_MS = 5.0
REGISTRATION_TARGET_MS = 25.0
RATIO_TARGET = 3.0


# ---------------------------------------------------------------- the bulk load


ACCOUNTS_SQL = """
INSERT INTO partners_account
    (id, name, name_key, domain, domain_key, domain_skeleton, name_skeleton, direct_rep,
     owning_partner_id, created_at)
SELECT {base} + g,
       'Customer ' || g || ' Inc',
       'customer ' || g,
       'customer' || g || '.example',
       'customer' || g || '.example',
       -- the TR39 skeletons (prm.normalize) of these names: m → rn, 0 → o, 1 → l
       'custorner' || translate(g::text, '01', 'ol'),
       'custorner ' || translate(g::text, '01', 'ol'),
       CASE WHEN mod(g, 50) = 0 THEN 'rep' || mod(g, 40) || '@vendor.example' ELSE '' END,
       NULL,
       now() - interval '550 days' - random() * interval '1000 days'
FROM generate_series(1, {accounts}) AS g
"""

# Every deal sits on a random loaded account; only an account's latest registration can be
# open (pending within the 48 h SLA, approved within its 90 days of protection), so each
# account has at most one open registration, as RULEBOOK §4 requires.
DEALS_SQL = """
WITH p AS (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n FROM partners_partner),
raw AS (
    SELECT 1 + floor(random() * {accounts})::bigint AS g,
           now() - random() * interval '548 days' AS submitted_at
    FROM generate_series(1, {deals})
),
ranked AS (
    SELECT g, submitted_at, random() AS r, random() AS r2,
           row_number() OVER (PARTITION BY g ORDER BY submitted_at DESC) AS rn
    FROM raw
),
shaped AS (
    SELECT ranked.*,
           (round((5000 + 495000 * random() ^ 2)::numeric, 2)) AS amount,
           CASE
               WHEN rn = 1 AND submitted_at > now() - interval '2 days' THEN 'pending'
               WHEN rn = 1 AND submitted_at > now() - interval '89 days' AND r < 0.6
                   THEN 'approved'
               WHEN submitted_at > now() - interval '90 days' THEN
                   CASE WHEN r2 < 0.1 THEN 'rejected' WHEN r2 < 0.55 THEN 'won' ELSE 'lost' END
               WHEN r < 0.05 THEN 'rejected'
               WHEN r < 0.45 THEN 'won'
               WHEN r < 0.72 THEN 'lost'
               ELSE 'expired'
           END AS status,
           (ARRAY['reseller', 'reseller', 'reseller', 'referral', 'co_sell', 'oem'])
               [1 + floor(random() * 6)::int] AS model
    FROM ranked
),
dated AS (
    SELECT shaped.*,
           least(current_date, submitted_at::date + 10 + floor(r2 * 110)::int) AS close_day,
           round(amount * (0.8 + 0.3 * r2)::numeric, 2) AS won_amount
    FROM shaped
)
INSERT INTO deals_deal (
    partner_id, account_id, customer_name, customer_domain, amount, currency,
    amount_reporting, amount_rate, expected_close,
    deal_type, compensation_model, contract_years, notes, status, reason, reason_note,
    submitted_at, approved_at, auto_approved, rejected_at, expires_on, extended,
    extension_justification, expired_at, direct_conflict, co_sell_partner_share,
    oem_discount, imported, closed_on, closed_at, closed_amount,
    closed_amount_reporting, closed_rate, protected_when_won,
    margin_rate, partner_credit, partner_price, commission, needs_review, review_reason,
    created_at, updated_at
)
SELECT p.ids[1 + floor(p.n * random() ^ 2)::int],
       {base} + g,
       'Customer ' || g || ' Inc',
       'customer' || g || '.example',
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
       CASE WHEN status NOT IN ('pending', 'rejected') THEN submitted_at + interval '20 hours' END,
       false,
       CASE WHEN status = 'rejected' THEN submitted_at + interval '1 hour' END,
       CASE WHEN status NOT IN ('pending', 'rejected') THEN submitted_at::date + 90 END,
       false,
       '',
       CASE WHEN status = 'expired' THEN (submitted_at::date + 91)::timestamptz END,
       false,
       CASE WHEN model = 'co_sell' THEN 0.3000 END,
       CASE WHEN model = 'oem' THEN 0.3000 END,
       false,
       CASE WHEN status IN ('won', 'lost') THEN close_day END,
       CASE WHEN status IN ('won', 'lost') THEN close_day + interval '16 hours' END,
       CASE WHEN status = 'won' THEN won_amount END,
       CASE WHEN status = 'won' THEN won_amount END,
       CASE WHEN status = 'won' THEN 1 END,
       CASE WHEN status = 'won' THEN true END,
       CASE WHEN status = 'won' THEN 0.2000 END,
       CASE WHEN status = 'won' THEN won_amount END,
       CASE WHEN status = 'won' THEN round(won_amount * 0.8, 2) END,
       CASE WHEN status = 'won' THEN 0 END,
       false,
       '',
       submitted_at,
       now()
FROM dated, p
"""

# Half on loaded accounts (by account and domain, as the CRM sync stores them), half on
# prospects that have no account yet; one in ten passed to a partner.
LEADS_SQL = """
WITH p AS (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n FROM partners_partner),
raw AS (
    SELECT i, 1 + floor(random() * {accounts})::bigint AS g, random() AS r
    FROM generate_series(1, {leads}) AS i
)
INSERT INTO partners_lead
    (company_name, name_key, domain, domain_key, source, created_at, account_id, partner_id,
     status, specialty, language, close_note, accepted_at)
SELECT CASE WHEN mod(i, 2) = 0 THEN 'Customer ' || g || ' Inc' ELSE 'Prospect ' || i || ' Ltd' END,
       CASE WHEN mod(i, 2) = 0 THEN 'customer ' || g ELSE 'prospect ' || i END,
       CASE WHEN mod(i, 2) = 0 THEN 'customer' || g ELSE 'prospect' || i END || '.example',
       CASE WHEN mod(i, 2) = 0 THEN 'customer' || g ELSE 'prospect' || i END || '.example',
       (ARRAY['inbound', 'outbound', 'event', 'webinar', 'referral', 'other'])
           [1 + floor(random() * 6)::int],
       now() - random() * interval '730 days',
       CASE WHEN mod(i, 2) = 0 THEN {base} + g END,
       CASE WHEN r < 0.1 THEN p.ids[1 + floor(p.n * random())::int] END,
       CASE WHEN r < 0.1 THEN 'accepted' ELSE 'new' END,
       '', '', '',
       CASE WHEN r < 0.1 THEN now() - random() * interval '30 days' END
FROM raw, p
"""


def load(accounts: int, deals: int, leads: int) -> dict:
    from django.db import connection

    from prm.normalize import (
        domain_skeleton,
        name_skeleton,
        normalize_company_name,
        normalize_domain,
    )

    timings = {}
    with connection.cursor() as cur:
        cur.execute("SET synchronous_commit = off")
        cur.execute("SET maintenance_work_mem = '512MB'")
        cur.execute("SET work_mem = '256MB'")
        # Foreign keys are consistent by construction; skip their per-row triggers.
        cur.execute("SET session_replication_role = replica")
        cur.execute("SELECT coalesce(max(id), 0) FROM partners_account")
        base = cur.fetchone()[0]
        params = {"base": base, "accounts": accounts, "deals": deals, "leads": leads}
        for table, sql in (
            ("partners_account", ACCOUNTS_SQL),
            ("deals_deal", DEALS_SQL),
            ("partners_lead", LEADS_SQL),
        ):
            start = time.perf_counter()
            indexes = drop_secondary_indexes(cur, table)
            cur.execute(sql.format(**params))
            loaded = time.perf_counter()
            for definition in indexes:
                cur.execute(definition)
            timings[table] = (loaded - start, time.perf_counter() - loaded, len(indexes))
        cur.execute(
            "SELECT setval(pg_get_serial_sequence('partners_account', 'id'), max(id)) "
            "FROM partners_account"
        )
        cur.execute("SET session_replication_role = origin")
        start = time.perf_counter()
        cur.execute("ANALYZE")
        timings["analyze"] = time.perf_counter() - start
        cur.execute(
            "SELECT name, domain, name_key, domain_key, name_skeleton, domain_skeleton"
            " FROM partners_account WHERE id = %s",
            [base + 1 + accounts // 2],
        )
        name, domain, *stored = cur.fetchone()
        timings["keys_match"] = stored == [
            normalize_company_name(name),
            normalize_domain(domain),
            name_skeleton(normalize_company_name(name)),
            domain_skeleton(normalize_domain(domain)),
        ]
        cur.execute(
            "SELECT count(*) FILTER (WHERE status IN ('pending', 'approved')), "
            "count(DISTINCT account_id) FILTER (WHERE status IN ('pending', 'approved')), "
            "count(*) FROM deals_deal"
        )
        timings["open"], timings["open_accounts"], timings["deals"] = cur.fetchone()
        cur.execute("SELECT status, count(*) FROM deals_deal GROUP BY 1 ORDER BY 2 DESC")
        timings["by_status"] = cur.fetchall()
        cur.execute("SELECT count(*) FROM partners_account")
        timings["accounts"] = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM partners_lead")
        timings["leads"] = cur.fetchone()[0]
    timings["base"] = base
    connection.close()  # measure on a fresh session with the server's default settings
    return timings


# ---------------------------------------------------------------- measurements


def summary(samples: list[float]) -> tuple[float, float]:
    """Median and 95th percentile, in milliseconds."""
    ms = [s * 1000 for s in samples]
    return statistics.median(ms), statistics.quantiles(ms, n=20, method="inclusive")[18]


def conflict_check(partner, *, name: str, domain: str, at):
    """The conflict check registration and the portal hint run: ``deals.queries.customer_check``
    (account by normalised key, its protecting registration, an earlier CRM lead)."""
    from deals.queries import customer_check
    from prm.normalize import normalize_company_name, normalize_domain

    check = customer_check(
        partner_id=partner.pk,
        domain_key=normalize_domain(domain),
        name_key=normalize_company_name(name),
        at=at,
    )
    return check.account_id, check.holder_partner_id, check.lead_before, check.probable_deal_id


def orm_select(key: str):
    """The same bare indexed lookup through the ORM, for an ORM-to-ORM comparison."""
    from partners.models import Account

    return Account.objects.filter(domain_key=key).values_list("pk", flat=True).first()


def bare_select(cur, key: str):
    cur.execute("SELECT id FROM partners_account WHERE domain_key = %s", [key])
    return cur.fetchone()


def query_count(fn) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        fn()
    return len(queries.captured_queries)


def register(partner, user, *, name: str, domain: str):
    from django.db import transaction
    from django.utils import timezone

    from deals.services import deal_register

    with transaction.atomic():
        deal = deal_register(
            partner=partner,
            submitted_by=user,
            customer_name=name,
            customer_domain=domain,
            amount="25000.00",
            expected_close=timezone.localdate() + timedelta(days=60),
            deal_type="new_logo",
            compensation_model="reseller",
        )
        transaction.set_rollback(True)
    return deal


def free_accounts(base: int, accounts: int, wanted: int, rng: random.Random) -> list[int]:
    """Loaded account numbers with no open registration and no CRM lead."""
    from django.db import connection

    candidates = sorted({rng.randint(1, accounts) for _ in range(wanted * 4)})
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT a.id - %s FROM partners_account a
            WHERE a.id = ANY(%s)
              AND NOT EXISTS (SELECT 1 FROM deals_deal d WHERE d.account_id = a.id
                              AND d.status IN ('pending', 'approved'))
              AND NOT EXISTS (SELECT 1 FROM partners_lead l
                              WHERE l.account_id = a.id OR l.domain_key = a.domain_key)
            """,
            [base, [base + g for g in candidates]],
        )
        found = [row[0] for row in cur.fetchall()]
    rng.shuffle(found)
    return found[:wanted]


def measure(base: int, accounts: int, samples: int) -> dict:
    from django.db import connection
    from django.utils import timezone

    from deals.services import deal_register
    from partners.models import Partner, PartnerStatus, RedFlag, RedFlagKind

    rng = random.Random(20260)
    today = timezone.localdate()
    lapsed = RedFlag.objects.filter(
        kind=RedFlagKind.CERT_LAPSED, status=RedFlag.Status.OPEN
    ).values("partner_id")
    partner = (
        Partner.objects.select_related("program", "channel_manager")
        .filter(status=PartnerStatus.ACTIVE, agreement_signed_on__lte=today)
        .exclude(pk__in=lapsed)
        .order_by("pk")
        .first()
    )
    member = partner.members.select_related("user").first()
    user = member.user if member else None
    token = uuid.uuid4().hex[:8]

    def new_customer(i: int, kind: str) -> tuple[str, str]:
        return f"Freshco {kind} {token} {i} Ltd", f"www.fresh-{kind}-{token}-{i}.example"

    # (a) and (c): half existing customers, half new ones, interleaved, same keys.
    keys = []
    for i in range(samples):
        if i % 2 == 0:
            g = rng.randint(1, accounts)
            keys.append(("existing", f"Customer {g} Inc", f"customer{g}.example"))
        else:
            keys.append(("new", *new_customer(i, "check")))
    rng.shuffle(keys)
    warmup = keys[:30]
    check_times = {"existing": [], "new": []}
    select_times = {"existing": [], "new": []}
    held = leads = 0
    with connection.cursor() as raw:
        for _, name, domain in warmup:
            conflict_check(partner, name=name, domain=domain, at=timezone.now())
            bare_select(raw, domain.removeprefix("www."))
        for kind, name, domain in keys:
            at = timezone.now()
            start = time.perf_counter()
            _, holder, lead, _probable = conflict_check(partner, name=name, domain=domain, at=at)
            check_times[kind].append(time.perf_counter() - start)
            held += holder is not None
            leads += lead
            key = domain.removeprefix("www.")  # what normalize_domain gives for these
            start = time.perf_counter()
            bare_select(raw, key)
            select_times[kind].append(time.perf_counter() - start)
    # Customers probably held by another partner: an open registration's customer under
    # another ending (the probe finds it through the domain skeleton's index).
    with connection.cursor() as cur:
        cur.execute(
            "SELECT a.id - %s FROM deals_deal d JOIN partners_account a ON a.id = d.account_id"
            " WHERE d.status IN ('pending', 'approved') AND d.partner_id <> %s"
            " AND a.id > %s ORDER BY random() LIMIT %s",
            [base, partner.pk, base, samples // 2],
        )
        held_elsewhere = [row[0] for row in cur.fetchall()]
    probable_times, probable_found = [], 0
    for g in held_elsewhere:
        start = time.perf_counter()
        *_, probable = conflict_check(
            partner, name=f"Other Name {g}", domain=f"customer{g}.de", at=timezone.now()
        )
        probable_times.append(time.perf_counter() - start)
        probable_found += probable is not None
    existing_key = next(k for k in keys if k[0] == "existing")
    new_key = next(k for k in keys if k[0] == "new")
    # The same lookup through the ORM, on the same keys: the ORM's own cost per query.
    steps = {"ORM bare SELECT": [], "raw SELECT 1 (a round trip)": []}
    with connection.cursor() as raw:
        for _kind, _name, domain in keys:
            key = domain.removeprefix("www.")
            start = time.perf_counter()
            orm_select(key)
            middle = time.perf_counter()
            raw.execute("SELECT 1")
            raw.fetchone()
            steps["raw SELECT 1 (a round trip)"].append(time.perf_counter() - middle)
            steps["ORM bare SELECT"].append(middle - start)
    check_queries = {
        "existing": query_count(
            lambda: conflict_check(
                partner, name=existing_key[1], domain=existing_key[2], at=timezone.now()
            )
        ),
        "new": query_count(
            lambda: conflict_check(partner, name=new_key[1], domain=new_key[2], at=timezone.now())
        ),
    }

    # (b) full registrations, rolled back.
    free = free_accounts(base, accounts, samples + 10, rng)
    reg_times = {"new account": [], "existing free account": []}
    outcomes: dict[str, int] = {}
    for i in range(5):  # warm-up
        register(partner, user, name=new_customer(i, "warm")[0], domain=new_customer(i, "warm")[1])
    reg_queries = {
        "new account": query_count(
            lambda: register(
                partner, user, name=new_customer(0, "count")[0], domain=new_customer(0, "count")[1]
            )
        ),
        "existing free account": query_count(
            lambda: register(
                partner, user, name=f"Customer {free[-1]} Inc", domain=f"customer{free[-1]}.example"
            )
        ),
    }
    for i in range(samples):
        for kind in reg_times:
            if kind == "new account":
                name, domain = new_customer(i, "reg")
            else:
                if i >= len(free):
                    continue
                name, domain = f"Customer {free[i]} Inc", f"customer{free[i]}.example"
            start = time.perf_counter()
            deal = register(partner, user, name=name, domain=domain)
            reg_times[kind].append(time.perf_counter() - start)
            outcomes[f"{kind}: {deal.status}"] = outcomes.get(f"{kind}: {deal.status}", 0) + 1

    # For comparison only: registrations of new customers that commit (the data grows).
    committed = []
    for i in range(samples):
        name, domain = new_customer(i, "commit")
        start = time.perf_counter()
        deal_register(
            partner=partner,
            submitted_by=user,
            customer_name=name,
            customer_domain=domain,
            amount="25000.00",
            expected_close=today + timedelta(days=60),
            deal_type="new_logo",
            compensation_model="reseller",
        )
        committed.append(time.perf_counter() - start)
    return {
        "partner": partner,
        "steps": steps,
        "committed": committed,
        "check": check_times,
        "select": select_times,
        "probable": (probable_times, probable_found),
        "check_queries": check_queries,
        "held": held,
        "leads": leads,
        "registration": reg_times,
        "registration_queries": reg_queries,
        "outcomes": outcomes,
    }


# ---------------------------------------------------------------- report


def line(label: str, samples: list[float], extra: str = "") -> str:
    median, p95 = summary(samples)
    return f"  {label:<40} n={len(samples):>4}  median {median:7.3f} ms  p95 {p95:7.3f} ms{extra}"


def holds(value: float, target: float) -> str:
    return "yes" if value < target else "NO"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--accounts", type=int, default=int(os.environ.get("BENCH_ACCOUNTS", 1_000_000))
    )
    parser.add_argument("--deals", type=int, help="default: as many as accounts")
    parser.add_argument("--leads", type=int, help="default: a tenth of the accounts")
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    deals = args.deals if args.deals is not None else args.accounts
    leads = args.leads if args.leads is not None else args.accounts // 10

    overall = time.perf_counter()
    recreate_database()  # so that django.setup() finds the database
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    connection.close()
    start = time.perf_counter()
    call_command("migrate", verbosity=0)
    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", partners=250, seed=1, stdout=quiet)
    setup_s = time.perf_counter() - start
    print(f"migrate + seed_demo --partners 250: {setup_s:.1f} s")

    start = time.perf_counter()
    facts = load(args.accounts, deals, leads)
    load_s = time.perf_counter() - start
    resum_s = resum_quarters()
    print(
        f"bulk load: {load_s:.1f} s for {args.accounts:,} accounts, {deals:,} deals, "
        f"{leads:,} leads ({os.cpu_count()} CPUs)"
    )
    for table in ("partners_account", "deals_deal", "partners_lead"):
        insert_s, index_s, count = facts[table]
        print(
            f"  {table:<17} insert {insert_s:6.1f} s, rebuild {count:>2} indexes {index_s:6.1f} s"
        )
    print(f"  ANALYZE {facts['analyze']:.1f} s")
    print(f"  quarter sums written again over the loaded deals: {resum_s:.1f} s")
    print(
        f"  totals: {facts['accounts']:,} accounts, {facts['deals']:,} deals, "
        f"{facts['leads']:,} leads; open registrations {facts['open']:,} on "
        f"{facts['open_accounts']:,} accounts; normalised keys match the code: "
        f"{facts['keys_match']}"
    )
    print("  deals by status: " + ", ".join(f"{s} {n:,}" for s, n in facts["by_status"]))

    start = time.perf_counter()
    result = measure(facts["base"], args.accounts, args.samples)
    measure_s = time.perf_counter() - start
    partner = result["partner"]
    print(f"\nmeasured in {measure_s:.1f} s; partner #{partner.pk} ({partner.status})")

    check, select = result["check"], result["select"]
    check_all = check["existing"] + check["new"]
    select_all = select["existing"] + select["new"]
    q = result["check_queries"]
    print(
        "(a) conflict check (deals.queries.customer_check: account, holder, earlier lead, "
        "and the probable-same-customer probe):"
    )
    print(line("existing + new customers", check_all))
    print(line("existing customer domains", check["existing"], f"  ({q['existing']} queries)"))
    print(line("new customer domains", check["new"], f"  ({q['new']} queries)"))
    print(
        f"  existing customers held by an open registration: {result['held']}, "
        f"with an earlier CRM lead: {result['leads']}"
    )
    probable_times, probable_found = result["probable"]
    if probable_times:
        print(
            line("another partner's customer, other ending", probable_times)
            + f"  (held for review: {probable_found} of {len(probable_times)})"
        )
    print("  for comparison, the same keys (a second pass):")
    for step, samples in result["steps"].items():
        print(line(step, samples))
    print("(b) deal_register, each rolled back:")
    reg_all = []
    for kind, samples in result["registration"].items():
        reg_all += samples
        print(
            line(
                kind,
                samples,
                f"  ({result['registration_queries'][kind]} statements incl. BEGIN, savepoints)",
            )
        )
    print(line("both", reg_all))
    print("  outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(result["outcomes"].items())))
    print(line("new account, committed (not in targets)", result["committed"]))
    print("(c) bare SELECT id FROM partners_account WHERE domain_key = %s:")
    print(line("existing + new customers", select_all))
    print(line("existing customer domains", select["existing"]))
    print(line("new customer domains", select["new"]))

    check_med, check_p95 = summary(check_all)
    select_med, _ = summary(select_all)
    reg_med, reg_p95 = summary(reg_all)
    ratio = check_med / select_med
    ratio_existing = summary(check["existing"])[0] / summary(select["existing"])[0]
    orm_med, _ = summary(result["steps"]["ORM bare SELECT"])
    ratio_orm = check_med / orm_med
    print("\ntargets:")
    print(
        f"  conflict check < {CONFLICT_TARGET_MS:g} ms: median {check_med:.3f} ms "
        f"{holds(check_med, CONFLICT_TARGET_MS)}, p95 {check_p95:.3f} ms "
        f"{holds(check_p95, CONFLICT_TARGET_MS)}"
    )
    print(
        f"  registration < {REGISTRATION_TARGET_MS:g} ms: median {reg_med:.3f} ms "
        f"{holds(reg_med, REGISTRATION_TARGET_MS)}, p95 {reg_p95:.3f} ms "
        f"{holds(reg_p95, REGISTRATION_TARGET_MS)}"
    )
    print(
        f"  conflict check / bare SELECT (medians) <= {RATIO_TARGET:g}x: {ratio:.2f}x "
        f"{'yes' if ratio <= RATIO_TARGET else 'NO'} "
        f"(existing customers only: {ratio_existing:.2f}x)"
    )
    print(
        f"  conflict check / the same SELECT through the ORM (medians): {ratio_orm:.2f}x "
        f"{'yes' if ratio_orm <= RATIO_TARGET else 'NO'}"
    )
    print(f"\ntotal run time: {time.perf_counter() - overall:.1f} s")


if __name__ == "__main__":
    main()
