"""Project-level guarantees: deploy checks, migrations, the API schema, presets, demo data,
and the apps' one-way stack."""

import ast
import os
import secrets
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from deals.models import Deal
from enablement.models import Certification, CertificationType
from partners.models import Partner, PartnerUser, Program, User
from prm.roles import Role

ROOT = Path(__file__).resolve().parent.parent
# Only a guard against a command that hangs, never a speed check: a `migrate` from scratch
# takes a minute on a quiet machine and several on a shared, busy one.
HANG = 1200


def clean_env() -> dict:
    # The browser tests allow sync ORM calls beside Playwright's loop; a deploy check must not.
    return {k: v for k, v in os.environ.items() if k not in ("DJANGO_ALLOW_ASYNC_UNSAFE",)}


def run_manage(*args, **env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean_env(), **env},
        capture_output=True,
        text=True,
        timeout=HANG,
    )


# The apps stack one way (README, "Architecture"): each imports only the apps below it,
# wherever the import sits (a module of a services package, a function's body). The
# project's URLconf is the one place that wires every app in.
STACK = ("scoring", "deals", "incentives", "enablement", "integrations", "partners", "prm")
WIRING = {"prm/urls.py"}


def upward_imports(app: str, root: Path = ROOT) -> list[str]:
    found = []
    for path in sorted((root / app).rglob("*.py")):
        name = path.relative_to(root).as_posix()
        if name in WIRING:
            continue
        for node in ast.walk(ast.parse(path.read_text(), name)):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in STACK and STACK.index(top) < STACK.index(app):
                    found.append(f"{name}:{node.lineno} imports {module}")
    return found


@pytest.mark.parametrize("app", STACK)
def test_an_app_imports_only_the_apps_below_it(app):
    assert upward_imports(app) == []


def test_the_stack_check_finds_an_upward_import_in_a_services_package(tmp_path):
    module = tmp_path / "incentives" / "services" / "claims.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "from partners.models import Partner\n\n\n"
        "def claim_submit():\n    from scoring.services import close\n"
    )
    assert upward_imports("incentives", root=tmp_path) == [
        "incentives/services/claims.py:5 imports scoring.services"
    ]


def test_production_settings_pass_check_deploy():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SETTINGS_MODULE="prm.settings.production",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="prm.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in clean_env().items() if k != "SECRET_KEY"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "prm.settings.production", "ALLOWED_HOSTS": "x"},
        capture_output=True,
        text=True,
        timeout=HANG,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_no_missing_migrations():
    result = run_manage("makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_describes_every_api_endpoint():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = set(schema["paths"])
    for expected in (
        "/api/v1/auth/token/",
        "/api/v1/programs/",
        "/api/v1/programs/{id}/",
        "/api/v1/partners/",
        "/api/v1/partners/{id}/",
        "/api/v1/partners/{partner_pk}/users/",
        "/api/v1/partners/{partner_pk}/users/{id}/",
        "/api/v1/partners/{partner_pk}/certifications/",
        "/api/v1/accounts/",
        "/api/v1/accounts/{id}/",
        "/api/v1/leads/",
    ):
        assert expected in paths, f"{expected} missing from {sorted(paths)}"


def test_default_program_is_installed_by_migration(db):
    program = Program.objects.get(is_default=True)
    tiers = list(program.tiers.order_by("rank").values_list("slug", "revenue_floor"))
    assert [slug for slug, _ in tiers] == ["registered", "silver", "gold", "platinum"]
    assert [int(floor) for _, floor in tiers] == [0, 50_000, 200_000, 500_000]
    assert set(CertificationType.objects.values_list("slug", flat=True)) >= {"demo", "solo-demo"}


def test_load_program_seed002_installs_the_second_preset_once(db):
    call_command("load_program", "seed002")
    call_command("load_program", "seed002")
    program = Program.objects.get(slug="seed002")
    assert not program.is_default
    assert program.entry_tier_max_days == 90
    platinum = program.tiers.get(slug="platinum")
    assert (platinum.revenue_floor, platinum.certified_reps_required) == (2_000_000, 10)
    assert (platinum.mdf_fund, platinum.mdf_match_ratio) == (50_000, 2)
    assert platinum.strategic_wins_required == 1
    assert program.tiers.get(slug="gold").new_logos_required == 3
    assert program.tiers.get(slug="silver").open_registrations_required == 1
    assert program.tiers.count() == 4
    assert Program.objects.get(is_default=True).slug == "default"


def test_load_program_rejects_an_unknown_preset(db):
    from django.core.management.base import CommandError

    with pytest.raises((CommandError, SystemExit)):
        call_command("load_program", "seed999")


def test_seed_demo_builds_a_pyramid_with_one_login_per_role(db, tmp_path, settings):
    settings.BASE_DIR = tmp_path
    # Built just after midnight: no registration is drawn for later in the day.
    just_after_midnight = timezone.now().replace(hour=0, minute=15) - timedelta(days=1)
    with time_machine.travel(just_after_midnight, tick=True):
        call_command("seed_demo", partners=40, seed=7)
    from partners.models import TierChange
    from scoring.models import QuarterClose, Scorecard

    counts = {
        slug: TierChange.objects.filter(cause="initial", to_tier__slug=slug).count()
        for slug in ("registered", "silver", "gold", "platinum")
    }
    assert counts["registered"] > counts["silver"] > counts["gold"] > counts["platinum"] > 0
    from enablement.models import PartnerApplication

    approved = PartnerApplication.objects.filter(partner__isnull=False).count()
    assert approved > 0  # applications approved into partners, onboarding
    assert sum(counts.values()) == Partner.objects.count() == 40 + approved
    # The last two quarters are closed: scorecards for every active partner.
    closes = list(QuarterClose.objects.values_list("state", flat=True))
    assert closes == ["done", "done"]
    active = Partner.objects.filter(status="active").count()
    assert Scorecard.objects.count() == 2 * active
    for username, role in [
        ("admin", Role.ADMIN),
        ("chief", Role.CHANNEL_CHIEF),
        ("exec", Role.EXECUTIVE),
        ("manager1", Role.CHANNEL_MANAGER),
        ("finance", Role.FINANCE),
        ("partner", Role.PARTNER),
        ("rep", Role.PARTNER),
    ]:
        assert User.objects.get(username=username).role == role
    assert PartnerUser.objects.get(user__username="partner").role == "admin"
    assert Deal.objects.filter(status="won").exists()
    assert Certification.objects.exists()
    # Money in three currencies besides dollars: daily rates, deals registered and won in
    # euros and pounds (their reporting amounts converted), some partners paid in euros.
    from partners.models import ExchangeRate

    assert set(ExchangeRate.objects.values_list("currency", flat=True)) == {"EUR", "GBP", "JPY"}
    assert {"USD", "EUR", "GBP"} <= set(Deal.objects.values_list("currency", flat=True))
    euro_win = Deal.objects.filter(status="won", currency="EUR").first()
    assert euro_win and euro_win.closed_amount_reporting != euro_win.closed_amount
    assert euro_win.closed_rate_day is not None
    assert Partner.objects.filter(currency="EUR").exists()
    # Money in every state: to claim, approved, paid; claims and MDF activities.
    from incentives.models import IncentiveClaim, LedgerEntry, MdfRequest

    assert LedgerEntry.objects.filter(partner_currency="EUR", currency="USD").exists()
    statuses = set(LedgerEntry.objects.values_list("status", flat=True))
    assert {"accrued", "approved", "paid"} <= statuses
    assert {"spiff", "rebate"} <= set(LedgerEntry.objects.values_list("kind", flat=True))
    assert IncentiveClaim.objects.filter(status="approved").exists()
    assert MdfRequest.objects.filter(partner__members__user__username="partner").exists()
    assert (tmp_path / "var" / "demo-logins.txt").read_text().count("\n") >= 6
    # Business reviews: last quarter's held with notes and action items, this quarter's
    # scheduled and prepared; the demo partner's shared, with its joint business plan.
    from prm.quarters import Quarter
    from scoring.models import JointBusinessPlan, Qbr, QbrActionItem

    current = Quarter.containing(timezone.localdate())
    reviewed = Partner.objects.filter(status="active").exclude(tier__slug="registered")
    assert Qbr.objects.filter(quarter=current.label).count() == reviewed.count()
    assert not Qbr.objects.filter(prepared_at__isnull=True).exists()
    last = Qbr.objects.filter(quarter=current.previous().label)
    assert last.filter(status="held").exclude(notes="").exists()
    assert QbrActionItem.objects.filter(qbr__in=last, done_at__isnull=False).exists()
    demo = Partner.objects.get(members__user__username="partner")
    assert Qbr.objects.filter(partner=demo, shared_with_partner=True).count() == 2
    assert JointBusinessPlan.objects.filter(partner=demo, fiscal_year=current.year).exists()
    # Every partner in the program has an onboarding plan, the demo partner's (which
    # started before plans were kept) with the steps its data proves done.
    from enablement.models import OnboardingTask

    assert (
        not Partner.objects.exclude(status__in=["prospect", "exited"])
        .exclude(onboarding__isnull=False)
        .exists()
    )
    plan = OnboardingTask.objects.filter(partner=demo)
    assert plan.count() > 0
    assert plan.filter(milestone__auto_event="first_registration", completed_on__isnull=False)
    # Lead distribution to click through: the demo partner's offers to answer, leads it
    # accepted and one it registered; other partners' offers; one back with the managers;
    # partners in the directory and customers who wrote to them.
    from partners.models import DirectoryInquiry, DirectoryProfile, Lead, RoutingRule

    mine = Lead.objects.filter(partner=demo)
    assert 2 <= mine.filter(status="offered").count() <= 3
    assert mine.filter(status="accepted", domain__endswith="-demo.example").count() == 2
    converted = mine.get(status="converted")
    assert converted.converted_deal.partner == demo
    assert Lead.objects.filter(status="offered").exclude(partner=demo).count() >= 3
    assert Lead.objects.filter(status="returned").exists()
    assert 6 <= DirectoryProfile.objects.filter(listed=True).count() <= 10
    assert DirectoryInquiry.objects.count() == 2
    assert RoutingRule.objects.count() >= 3
    # Running again with --if-empty adds nothing.
    before = Deal.objects.count()
    call_command("seed_demo", if_empty=True)
    assert Deal.objects.count() == before


def test_the_embedded_default_runs_on_sqlite(tmp_path):
    """`make run` needs no database server: the same code on a SQLite file (WAL)."""
    database = tmp_path / "embedded.sqlite3"
    env = {
        "DJANGO_SETTINGS_MODULE": "prm.settings.local",
        "DATABASE_URL": f"sqlite:///{database}",
        "CELERY_BROKER_URL": "filesystem://",
        "REDIS_URL": "",
        "EMAIL_URL": "memorymail://",
    }
    assert run_manage("migrate", "-v0", **env).returncode == 0
    seeded = run_manage("seed_demo", "--partners", "20", **env)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    script = (
        "from datetime import date\n"
        "from partners.models import Partner\n"
        "from deals.services import deal_register, account_status_for\n"
        "p = Partner.objects.filter(status='active').first()\n"
        "d = deal_register(partner=p, submitted_by=None, customer_name='Lite Co',"
        " customer_domain='lite.example', amount='100', expected_close=date(2030, 1, 1),"
        " deal_type='new_logo', compensation_model='reseller')\n"
        "print(d.status, account_status_for(p, customer_name='', customer_domain='lite.example'))\n"
        "from partners.models import PartnerUser\n"
        "from partners.queries import unread_notice_count\n"
        "m = PartnerUser.objects.filter(partner=p).first()\n"
        "print('badge', unread_notice_count(m.user, p.pk))\n"
    )
    shell = run_manage("shell", "-c", script, **env)
    assert shell.returncode == 0, shell.stdout + shell.stderr
    assert "pending {'state': 'yours'" in shell.stdout
    assert "badge " in shell.stdout  # the notice badge counts on SQLite too
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_production_collectstatic_succeeds(tmp_path):
    """The manifest storage rewrites every url() and sourceMappingURL: a vendored file that
    names a missing file fails the Docker build."""
    result = run_manage(
        "collectstatic",
        "--noinput",
        "-v0",
        DJANGO_SETTINGS_MODULE="prm.settings.production",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="prm.example.com",
        STATIC_ROOT=str(tmp_path / "static"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "static" / "staticfiles.json").exists()


def test_the_lock_pins_every_dependency_with_hashes():
    """``requirements.lock`` (``make lock``) pins every runtime and dev dependency and the
    build backend that pyproject.toml names, each at a release pyproject.toml allows and
    with hashes, which ``make install`` requires: a dependency added without ``make lock``
    fails here, not on a machine installing from the lock."""
    import re
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = [
        Requirement(line)
        for line in project["project"]["dependencies"]
        + project["project"]["optional-dependencies"]["dev"]
        + project["build-system"]["requires"]
    ]
    lock = (ROOT / "requirements.lock").read_text()
    pins = re.findall(
        r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)((?: \\\n\s+--hash=sha256:\w{64})+)", lock, re.M
    )
    assert len(pins) == len(re.findall(r"^\S+==", lock, re.M)), "a pin without hashes"
    pinned = {canonicalize_name(name): version for name, version, _ in pins}
    for requirement in wanted:
        version = pinned.get(canonicalize_name(requirement.name))
        assert version, f"{requirement.name} is not in requirements.lock: run make lock"
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {requirement.name}=={version}, outside {requirement}: "
            "run make lock"
        )


# ---------------------------------------------------------------- observability settings


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in clean_env().items() if not k.startswith(("SENTRY_", "LOG_"))}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=HANG,
    )


def production(**env) -> dict:
    return {
        "DJANGO_SETTINGS_MODULE": "prm.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "prm.example.com",
        **env,
    }


SENTRY_STATE = (
    "import django; django.setup(); import sentry_sdk; client = sentry_sdk.get_client(); "
    "print(client.is_active()); o = client.options; "
    "print(o['environment'], o['release'], o['traces_sample_rate'], o['send_default_pii'], "
    "sorted(set(client.integrations) & {'django', 'celery'}))"
)


def test_sentry_is_off_without_a_dsn():
    result = run_python(SENTRY_STATE, **production())
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "False"


def test_sentry_reports_with_a_dsn_from_the_environment():
    # An address nothing listens on: initialising sends nothing.
    result = run_python(
        SENTRY_STATE,
        **production(
            SENTRY_DSN="http://public@127.0.0.1:9/1",
            SENTRY_ENVIRONMENT="staging",
            SENTRY_RELEASE="prm@1.4.2",
            SENTRY_TRACES_SAMPLE_RATE="0.25",
        ),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "True",
        "staging prm@1.4.2 0.25 False ['celery', 'django']",
    ]


def test_sentry_traces_nothing_unless_asked():
    result = run_python(SENTRY_STATE, **production(SENTRY_DSN="http://public@127.0.0.1:9/1"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].split()[2] == "0.0"


LOG_STATE = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.LOGGING['handlers']['console']['formatter'])"
)


def test_production_logs_json_lines_and_development_plain_text():
    assert run_python(LOG_STATE, **production()).stdout.strip() == "json"
    assert run_python(LOG_STATE, **production(LOG_FORMAT="text")).stdout.strip() == "text"
    local = run_python(LOG_STATE, DJANGO_SETTINGS_MODULE="prm.settings.local")
    assert local.stdout.strip() == "text", local.stderr


# `make run`'s settings, answering a missing page and a static file as its server does.
LOCAL_PAGES = (
    "import django; django.setup(); from django.conf import settings; "
    "from django.test import Client; c = Client(raise_request_exception=False); "
    "print(settings.DEBUG); "
    "r = c.get('/static/css/prm.css'); print(r.status_code, r.get('Content-Type')); "
    "r = c.get('/no-such-page/'); page = r.content.decode(); "
    "print(r.status_code, 'data-testid=\"error\"' in page, "
    "'/static/vendor/bootstrap/bootstrap.min.css' in page, 'URLconf' in page)"
)


@pytest.mark.parametrize(
    ("debug", "shown"),
    [
        ({}, ["False", "200 text/css", "404 True True False"]),
        ({"DJANGO_DEBUG": "1"}, ["True", "200 text/css", "404 False False True"]),
    ],
)
def test_make_runs_settings_show_the_styled_error_pages_unless_debug_is_asked_for(
    tmp_path, debug, shown
):
    result = run_python(
        LOCAL_PAGES,
        DJANGO_SETTINGS_MODULE="prm.settings.local",
        DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        CELERY_BROKER_URL="memory://",
        REDIS_URL="",
        ALLOWED_HOSTS="testserver",
        **debug,
    )
    lines = [line.replace('; charset="utf-8"', "") for line in result.stdout.splitlines()]
    assert lines == shown, result.stderr
