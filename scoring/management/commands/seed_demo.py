"""A realistic demo program: a partner pyramid, their people, customers, leads and deals,
money, reviews and plans.

Deterministic for a given ``--seed``. Everything goes through the services the admin, the
portal, the API and the jobs call (two years of deals through the import-of-history path
of ``deal_register``), so the demo obeys the rules like any data; the default demo (250
partners, about 2,500 deals) loads in well under a minute.
"""

import math
import random
import time as clock
from contextlib import contextmanager, suppress
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import models, transaction
from django.utils import timezone

from deals.models import CompensationModel, Deal, DealStatus, DealType, Product
from deals.services import (
    DealError,
    deal_lose,
    deal_quarters_summarize,
    deal_register,
    deal_win,
    deals_expire_lapsed,
)
from enablement import services as enable
from enablement.models import CertificationType
from partners.models import (
    Account,
    ExchangeRate,
    Lead,
    LeadSource,
    Partner,
    PartnerRole,
    PartnerStatus,
    PartnerUser,
    Program,
    Region,
    RoutingRule,
    Specialty,
    User,
)
from partners.services import (
    account_create,
    lead_create,
    partner_create,
    partner_update,
    partner_user_create,
    staff_user_create,
)
from partners.services import leads as lead_services
from partners.services.directory import directory_inquiry_submit, directory_profile_update
from prm.money import round_money
from prm.quarters import Quarter
from prm.roles import Role
from scoring.services.onboarding import onboarding_plans_backfill

DEMO_PASSWORD = "demo-Partner-2026"

# The demo's exchange rates into USD, its reporting currency (RULEBOOK §12): one a working
# day for each currency, drifting smoothly around its level: (level, swing, period in days).
DEMO_RATES = {
    "EUR": (Decimal("1.08"), 0.04, 41),
    "GBP": (Decimal("1.27"), 0.035, 53),
    "JPY": (Decimal("0.0068"), 0.05, 67),
}


def demo_rate(currency: str, day: date) -> Decimal:
    """The demo's rate of ``currency`` on ``day`` (the same for every run)."""
    level, swing, period = DEMO_RATES[currency]
    n = day.toordinal()
    factor = 1 + swing * math.sin(n / period) + swing / 3 * math.sin(n / 7.3)
    return (level * Decimal(f"{factor:.8f}")).quantize(Decimal("0.000001"))


PREFIXES = (
    "North",
    "Blue",
    "Summit",
    "Iron",
    "Bright",
    "Cedar",
    "Harbor",
    "Silver",
    "Quantum",
    "Atlas",
    "Vertex",
    "Pioneer",
    "Crest",
    "Nimbus",
    "Granite",
    "Beacon",
    "Falcon",
    "Maple",
    "Orbit",
    "Prairie",
    "Redwood",
    "Sterling",
    "Tidal",
    "Union",
    "Vantage",
    "Willow",
    "Zenith",
    "Apex",
    "Coastal",
    "Delta",
)
STEMS = (
    "wind",
    "stone",
    "bridge",
    "field",
    "point",
    "gate",
    "line",
    "path",
    "peak",
    "ridge",
    "wave",
    "works",
    "forge",
    "light",
    "core",
)
KINDS = (
    "Systems",
    "Solutions",
    "Consulting",
    "Networks",
    "Technologies",
    "Partners",
    "Integrators",
    "Digital",
    "IT Services",
    "Group",
)
SUFFIXES = ("Inc", "LLC", "Ltd", "GmbH", "Co", "Pty Ltd", "")
CUSTOMER_WORDS = (
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Wonka",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Oscorp",
    "Aperture",
    "Massive",
    "Dynamic",
    "Pacific",
    "Atlantic",
    "Central",
    "Metro",
    "Prime",
    "United",
    "Global",
    "Royal",
    "Evergreen",
    "Sunrise",
)
CUSTOMER_KINDS = (
    "Foods",
    "Health",
    "Logistics",
    "Bank",
    "Insurance",
    "Retail",
    "Energy",
    "Motors",
    "Media",
    "Pharma",
    "Airlines",
    "Hotels",
    "Telecom",
    "Manufacturing",
    "Labs",
)

# Share of partners per tier (a natural pyramid) and the trailing-year revenue range of each.
PYRAMID = {"registered": 0.50, "silver": 0.30, "gold": 0.15, "platinum": 0.05}
REVENUE = {
    "registered": (0, 70_000),
    "silver": (45_000, 260_000),
    "gold": (180_000, 650_000),
    "platinum": (450_000, 1_600_000),
}
DEALS = {"registered": (2, 7), "silver": (6, 14), "gold": (12, 24), "platinum": (24, 42)}
REPS = {"registered": (1, 2), "silver": (2, 4), "gold": (3, 6), "platinum": (5, 9)}


class Command(BaseCommand):
    help = "Load a realistic demo program with one login per role (printed at the end)."

    def add_arguments(self, parser):
        parser.add_argument("--partners", type=int, default=250)
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing if partners already exist."
        )

    def handle(self, *args, partners: int, seed: int, if_empty: bool, **options):
        if if_empty and Partner.objects.exists():
            self.stdout.write("Demo data already loaded; skipping.")
            self._write_logins(printed=True)
            return
        self.rng = random.Random(seed)
        self.today = timezone.localdate()
        self.started = clock.monotonic()
        # The demo's people are made up: what the services would e-mail them (when the
        # transaction commits) goes nowhere.
        backend = settings.EMAIL_BACKEND
        settings.EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
        try:
            # One transaction: a load that fails half-way leaves nothing behind, and the
            # services' own transactions become savepoints instead of a commit each.
            with transaction.atomic():
                created, accounts, deals, summary = self._load(partners)
        finally:
            settings.EMAIL_BACKEND = backend
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {len(created)} partners, {User.objects.count()} users, "
                f"{accounts} accounts, {Lead.objects.count()} leads, {deals} deals; "
                f"{summary}."
            )
        )
        self._write_logins(printed=True)

    def _load(self, partners: int) -> tuple[list, int, int, str]:
        with self._step("Staff, products and partners"):
            program = Program.objects.prefetch_related("tiers").get(is_default=True)
            enable.relationship_defaults_install(program)
            self.tiers = {tier.slug: tier for tier in program.tiers.all()}
            staff = self._staff()
            products = self._products()
            rates = self._rates()
            created = self._partners(program, staff["managers"], partners)
        with self._step("Partner people, onboarding plans and certifications"):
            self._people(created)
            self._onboarding_plans(created)
            self._certifications(created)
        with self._step("Customers and CRM leads"):
            accounts = self._accounts()
            self._leads(accounts, created)
        with self._step("Two years of deal registrations, wins and losses"):
            deals = self._deals(created, accounts, products)
        with self._step("Lead routing and the partner directory"):
            self._lead_distribution(created)
        with self._step("Portal logins, trainings and events"):
            self._engagement(created)
        with self._step("Company revenue"):
            self._company_revenue()
        with self._step("Closing the past quarters"):
            closed = self._close_past_quarters()
        with self._step("Recruitment, onboarding and content"):
            relationship = self._relationship()
        with self._step("Incentives, claims and MDF"):
            money = self._incentives()
        with self._step("Business reviews and plans"):
            reviews = self._qbrs()
        # The partners that started before the last six months got no plan above, as in a
        # program that kept none then: the same command an upgraded installation runs
        # (onboarding_backfill) gives them theirs, steps their data proves already done.
        with self._step("Onboarding plans of the partners that started before plans"):
            backfill = onboarding_plans_backfill()
        # What the nightly job does: the dashboards read ended quarters from summaries.
        with self._step("Quarter summaries for the dashboards"):
            deal_quarters_summarize(today=self.today)
        closing = (
            f"{rates} exchange rates; "
            f"closed {', '.join(closed)}; {relationship}; {money}; {reviews}; "
            f"{len(backfill.partners)} earlier partners' onboarding plans"
        )
        return created, len(accounts), deals, closing

    @contextmanager
    def _step(self, label: str):
        """Print a step as it starts and how long it took, so a first `make run` shows
        what it is doing."""
        self.stdout.write(f"  {label}…", ending="")
        self.stdout.flush()
        began = clock.monotonic()
        yield
        self.stdout.write(
            f" {clock.monotonic() - began:.1f} s (total {clock.monotonic() - self.started:.0f} s)"
        )

    # ------------------------------------------------------------ staff and catalogue

    STAFF = [
        ("admin", Role.ADMIN, "Avery", "Admin"),
        ("chief", Role.CHANNEL_CHIEF, "Casey", "Chief"),
        ("exec", Role.EXECUTIVE, "Evelyn", "Exec"),
        ("finance", Role.FINANCE, "Frankie", "Finance"),
    ]
    MANAGERS = [
        "Morgan",
        "Riley",
        "Jordan",
        "Taylor",
        "Quinn",
        "Reese",
        "Skyler",
        "Drew",
        "Jamie",
        "Rowan",
    ]

    def _staff(self) -> dict:
        people = self.STAFF + [
            (f"manager{n}", Role.CHANNEL_MANAGER, first, "Manager")
            for n, first in enumerate(self.MANAGERS, start=1)
        ]
        made = [
            staff_user_create(
                username=username,
                email=f"{username}@vendor.example",
                password=DEMO_PASSWORD,
                role=role,
                first_name=first,
                last_name=last,
            )
            for username, role, first, last in people
        ]
        return {"managers": [user for user in made if user.role == Role.CHANNEL_MANAGER]}

    def _products(self) -> list[Product]:
        catalogue = [
            ("core-platform", "Core Platform", False),
            ("analytics", "Analytics Suite", False),
            ("security", "Security Add-on", True),
            ("ai-assist", "AI Assist", True),
            ("support-plus", "Support Plus", False),
        ]
        for slug, name, strategic in catalogue:
            Product.objects.get_or_create(
                slug=slug, defaults={"name": name, "strategic": strategic}
            )
        return list(Product.objects.order_by("pk"))

    # ------------------------------------------------------------ partners

    def _company(self, used: set[str]) -> tuple[str, str]:
        while True:
            stem = self.rng.choice(PREFIXES) + self.rng.choice(STEMS)
            kind = self.rng.choice(KINDS)
            suffix = self.rng.choice(SUFFIXES)
            name = f"{stem} {kind}" + (f" {suffix}" if suffix else "")
            domain = f"{stem.lower()}{kind.split()[0].lower()}.example"
            if domain not in used:
                used.add(domain)
                return name, domain

    def _partners(self, program, managers, count) -> list[Partner]:
        """The pyramid, through the same service as the admin's "add partner"; the first
        active gold partner is the demo's (the `partner` and `rep` logins)."""
        used: set[str] = set()
        slugs = []
        for slug, share in PYRAMID.items():
            slugs += [slug] * round(count * share)
        slugs = (slugs + ["registered"] * count)[:count]
        self.rng.shuffle(slugs)
        regions = list(Region.values)
        partners = []
        for index, slug in enumerate(slugs):
            name, domain = self._company(used)
            started = self.today - timedelta(days=self.rng.randint(200, 1400))
            status = PartnerStatus.ACTIVE
            roll = self.rng.random()
            if slug == "registered" and roll < 0.08:
                status = PartnerStatus.ONBOARDING
                started = self.today - timedelta(days=self.rng.randint(5, 60))
            elif slug == "registered" and roll < 0.11:
                status = PartnerStatus.PROSPECT
                started = self.today + timedelta(days=self.rng.randint(5, 30))
            elif roll > 0.985:
                status = PartnerStatus.SUSPENDED
            elif slug == "registered" and roll > 0.95:
                status = PartnerStatus.EXITED
            partners.append(
                partner_create(
                    name=name,
                    domain=domain,
                    program=program,
                    tier=self.tiers[slug],
                    status=status,
                    annual_quota=None
                    if self.rng.random() < 0.8
                    else Decimal(self.rng.choice([75_000, 150_000, 300_000, 750_000])),
                    agreement_signed_on=started if status != PartnerStatus.PROSPECT else None,
                    started_on=started,
                    channel_manager=managers[index % len(managers)],
                    region=self.rng.choices(regions, weights=[50, 30, 20])[0],
                )
            )
        self.demo = next(
            p for p in partners if p.tier.slug == "gold" and p.status == PartnerStatus.ACTIVE
        )
        # A third of the European partners (not the demo's own) are paid in euros.
        paid_in_euros = [p for p in partners if self._deal_currency(p) == "EUR"]
        Partner.objects.filter(pk__in=[p.pk for p in paid_in_euros]).update(currency="EUR")
        for partner in paid_in_euros:
            partner.currency = "EUR"
        return partners

    def _rates(self) -> int:
        """What finance enters: a rate a working day for each of the demo's currencies,
        from before the first registration to today."""
        finance = User.objects.get(username="finance")
        start = Quarter.containing(self.today).trailing(6)[0].start - timedelta(days=14)
        days = [
            start + timedelta(days=n)
            for n in range((self.today - start).days + 1)
            if (start + timedelta(days=n)).weekday() < 5
        ]
        rows = ExchangeRate.objects.bulk_create(
            ExchangeRate(
                currency=currency,
                base="USD",
                day=day,
                rate=demo_rate(currency, day),
                source="Demo",
                entered_by=finance,
            )
            for currency in DEMO_RATES
            for day in days
        )
        return len(rows)

    def _deal_currency(self, partner) -> str:
        """The currency a partner's deals are in: some European partners sell in euros or
        pounds, some Asia-Pacific ones in yen; the demo's own partner in dollars."""
        if partner.pk == self.demo.pk:
            return "USD"
        if partner.region == Region.EMEA:
            return ("EUR", "GBP", "USD")[partner.pk % 3]
        if partner.region == Region.APAC and partner.pk % 4 == 0:
            return "JPY"
        return "USD"

    def _in_currency(self, amount: Decimal, currency: str, day: date) -> Decimal:
        """A dollar amount in ``currency`` (about: at that day's demo rate)."""
        if currency == "USD":
            return amount
        return round_money(amount / demo_rate(currency, day))

    FIRST_NAMES = (
        "Alex",
        "Sam",
        "Chris",
        "Pat",
        "Jo",
        "Lee",
        "Kim",
        "Max",
        "Ana",
        "Noor",
        "Ivan",
        "Mei",
        "Omar",
        "Lena",
        "Raj",
        "Sofia",
        "Tom",
        "Yara",
    )
    LAST_NAMES = (
        "Smith",
        "Garcia",
        "Chen",
        "Novak",
        "Okafor",
        "Larsen",
        "Rossi",
        "Tanaka",
        "Dubois",
        "Khan",
        "Silva",
        "Müller",
        "Brown",
        "Singh",
    )

    def _people(self, partners) -> None:
        """Each partner's admin and reps. The demo partner's first two are the `partner`
        and `rep` logins, with the demo password; the made-up others have no password (as
        people who sign in by single sign-on or have not set one yet)."""
        self.people: dict[int, list[PartnerUser]] = {}
        for partner in partners:
            low, high = REPS[partner.tier.slug]
            size = self.rng.randint(low, high) + 1
            stem = partner.domain.split(".")[0]
            members = self.people[partner.pk] = []
            for n in range(size):
                first = self.rng.choice(self.FIRST_NAMES)
                last = self.rng.choice(self.LAST_NAMES)
                username = f"{stem}.{first.lower()}{n}"
                login = partner.pk == self.demo.pk and n < 2
                if login:
                    username = ("partner", "rep")[n]
                members.append(
                    partner_user_create(
                        partner=partner,
                        username=username,
                        email=f"{username}@{partner.domain}",
                        password=DEMO_PASSWORD if login else None,
                        role=PartnerRole.ADMIN if n == 0 else PartnerRole.REP,
                        first_name=first,
                        last_name=last,
                    )
                )

    def _onboarding_plans(self, partners) -> None:
        """Plans for the partners that started in the last six months: their certifications,
        first registrations and courses tick their steps as they are recorded below."""
        recent = [
            p
            for p in partners
            if p.started_on >= self.today - timedelta(days=182)
            and p.status not in (PartnerStatus.PROSPECT, PartnerStatus.EXITED)
        ]
        for partner in recent:
            enable.onboarding_plan_create(partner=partner)
        self.planned = recent

    def _certifications(self, partners) -> None:
        """Most partners hold what their tier needs, some a bit more; a few let one lapse."""
        demo = CertificationType.objects.get(slug="demo")
        solo = CertificationType.objects.get(slug="solo-demo")
        for partner in partners:
            people = self.people[partner.pk]
            need = partner.tier.certified_reps_required
            holders = min(len(people), need + self.rng.choice([0, 0, 1, 1, 2]))
            lapsed = self.rng.random() < 0.08 and holders > 0
            for position, member in enumerate(people[:holders]):
                issued = self.today - timedelta(days=self.rng.randint(30, 600))
                expires = issued + timedelta(days=730)
                if lapsed and position == 0:
                    issued = self.today - timedelta(days=760)
                    expires = self.today - timedelta(days=self.rng.randint(3, 25))
                enable.certification_award(
                    partner=partner,
                    user=member.user,
                    certification=demo,
                    issued_on=issued,
                    expires_on=expires,
                )
                solo_issued = issued + timedelta(days=60)
                if self.rng.random() < 0.4 and solo_issued < self.today:
                    enable.certification_award(
                        partner=partner,
                        user=member.user,
                        certification=solo,
                        issued_on=solo_issued,
                        expires_on=solo_issued + timedelta(days=730),
                    )

    # ------------------------------------------------------------ customers

    def _accounts(self) -> list[Account]:
        """The customers the vendor's CRM knows, some worked by a direct rep."""
        accounts, used = [], set()
        for word in CUSTOMER_WORDS:
            for kind in CUSTOMER_KINDS:
                for region in (
                    "",
                    " East",
                    " West",
                    " Europe",
                    " Asia",
                    " Americas",
                    " Nordic",
                    " Pacific",
                ):
                    name = f"{word} {kind}{region}"
                    domain = f"{word}{kind}{region.strip()}".lower() + ".example"
                    if domain in used:
                        continue
                    used.add(domain)
                    suffix = self.rng.choice(["Inc", "Corp", "Ltd", "GmbH", "LLC", "SA"])
                    direct = self.rng.random() < 0.08
                    accounts.append(
                        account_create(
                            name=f"{name} {suffix}",
                            domain=domain,
                            direct_rep=f"ae{self.rng.randint(1, 25)}@vendor.example"
                            if direct
                            else "",
                        )
                    )
        return accounts

    def _leads(self, accounts, partners) -> None:
        """CRM leads on a fifth of the customers: a partner registering one of those after
        the lead came in is refused (no double-dipping), so partners mostly register the
        others."""
        sources = [s for s in LeadSource.values if s != LeadSource.PARTNER]
        self.lead_accounts: set[int] = set()
        for account in self.rng.sample(accounts, k=len(accounts) // 5):
            lead_create(
                company_name=account.name,
                domain=account.domain,
                source=self.rng.choice(sources),
                created_at=timezone.now() - timedelta(days=self.rng.randint(1, 540)),
                partner=self.rng.choice(partners) if self.rng.random() < 0.1 else None,
            )
            self.lead_accounts.add(account.pk)

    # ------------------------------------------------------------ deals

    def _deals(self, partners, accounts, products) -> int:
        """Two years of registrations, imported as a manager moving from another PRM would
        (``deal_register`` with a past ``submitted_at``: every rule judged as of then),
        with their wins and losses recorded on their close dates, all in time order; then
        today's approval queue and a few registrations made just now."""
        quarter = Quarter.containing(self.today)
        window_start = quarter.trailing(6)[0].start
        plain = [a for a in accounts if a.pk not in self.lead_accounts]
        with_lead = [a for a in accounts if a.pk in self.lead_accounts]
        events = []
        owners: dict[int, int] = {}
        now = timezone.now()
        for partner in partners:
            if partner.status == PartnerStatus.PROSPECT:
                continue
            first_day = max(window_start, partner.started_on + timedelta(days=1))
            span = (self.today - first_day).days
            if span < 1:
                continue
            low, high = DEALS[partner.tier.slug]
            count = self.rng.randint(low, high)
            if partner.status == PartnerStatus.ONBOARDING:
                count = self.rng.randint(0, 2)
            low_rev, high_rev = REVENUE[partner.tier.slug]
            # One partner in ten performs like the tier above or below: advance/demote candidates.
            target = self.rng.uniform(low_rev, high_rev) * self.rng.choice([1] * 8 + [0.4, 1.8])
            average = Decimal(max(target, 8_000) / max(count * 0.4, 1))
            for _ in range(count):
                account = self.rng.choice(with_lead if self.rng.random() < 0.04 else plain)
                # Partners mostly work their own customers; now and then another's.
                mine = owners.setdefault(account.pk, partner.pk) == partner.pk
                if not mine and self.rng.random() < 0.8:
                    account = self.rng.choice(plain)
                    owners.setdefault(account.pk, partner.pk)
                submitted = timezone.make_aware(
                    datetime.combine(first_day, time(8))
                    + timedelta(days=self.rng.uniform(0, span), hours=self.rng.uniform(0, 10))
                )
                if submitted > now:
                    # Drawn for later today: made earlier, before the demo is built.
                    submitted = now - timedelta(minutes=self.rng.uniform(10, 300))
                amount = round_money(average * Decimal(self.rng.uniform(0.4, 1.6)))
                plan = self._plan(partner, account, submitted, amount, products)
                events.append((submitted, 0, plan))
                if plan["closed_on"] is not None:
                    closing = timezone.make_aware(datetime.combine(plan["closed_on"], time(16)))
                    events.append((closing, 1, plan))
        events.sort(key=lambda event: (event[0], event[1]))
        for _, closing, plan in events:
            if closing:
                self._close(plan)
            else:
                self._register(plan)
        deals_expire_lapsed(today=self.today)
        self._todays_queue(partners, plain, products)
        return Deal.objects.count()

    def _plan(self, partner, account, submitted, amount, products) -> dict:
        """What happens to one registration: still open, lost or won, and when."""
        age = (timezone.now() - submitted).days
        manager = partner.channel_manager
        currency = self._deal_currency(partner)
        amount = self._in_currency(amount, currency, submitted.date())
        plan = {
            "fields": {
                "partner": partner,
                "submitted_by": manager,  # imported by the partner's channel manager
                "customer_name": account.name,
                "customer_domain": account.domain,
                "amount": amount,
                "currency": currency,
                "expected_close": (submitted + timedelta(days=self.rng.randint(30, 120))).date(),
                "deal_type": self.rng.choices(list(DealType.values), weights=[45, 25, 15, 15])[0],
                "compensation_model": self.rng.choices(
                    list(CompensationModel.values), weights=[60, 20, 15, 5]
                )[0],
                "contract_years": self.rng.choice([1, 1, 1, 2, 3]),
                "products": self.rng.sample(products, k=self.rng.randint(1, 2)),
                "submitted_at": submitted,
                "approved_at": None,
            },
            "manager": manager,
            "closed_on": None,
            "won": False,
            "deal": None,
        }
        if age < 2 and self.rng.random() < 0.7:
            return plan  # still waiting for the manager
        approved_at = submitted + timedelta(hours=self.rng.uniform(2, 47))
        if approved_at < timezone.now():
            plan["fields"]["approved_at"] = approved_at
        roll = self.rng.random()
        if (age < 90 and roll < 0.55) or roll < 0.12:
            return plan  # open, or left to expire
        if roll < 0.40:
            plan["closed_on"] = min(
                self.today, (submitted + timedelta(days=self.rng.randint(20, 85))).date()
            )
            return plan
        plan["closed_on"] = min(
            self.today, (submitted + timedelta(days=self.rng.randint(15, 100))).date()
        )
        plan["won"] = True
        plan["closed_amount"] = round_money(amount * Decimal(self.rng.uniform(0.85, 1.1)))
        plan["csat"] = (
            self.rng.choices([1, 2, 3, 4, 5], weights=[3, 5, 15, 40, 37])[0]
            if self.rng.random() < 0.6
            else None
        )
        return plan

    def _register(self, plan: dict) -> None:
        # Refused as of that day (the partner could not register then): nothing stored.
        with suppress(DealError):
            plan["deal"] = deal_register(**plan["fields"])

    def _close(self, plan: dict) -> None:
        deal = plan["deal"]
        if deal is None:
            return
        deal.refresh_from_db()
        if deal.status not in (DealStatus.PENDING, DealStatus.APPROVED, DealStatus.EXPIRED):
            return  # rejected by the rules when it was registered
        if plan["won"]:
            deal_win(
                deal=deal,
                by=plan["manager"],
                amount=plan["closed_amount"],
                closed_on=plan["closed_on"],
                csat=plan["csat"],
            )
        else:
            deal_lose(deal=deal, by=plan["manager"], closed_on=plan["closed_on"])

    def _todays_queue(self, partners, plain, products) -> None:
        """Fresh registrations inside the approval SLA (some close to it), two protected
        registrations of the demo partner (one close to its expiry), and three made just
        now that meet the conflict rules: two on customers another partner holds, one on a
        customer our own team works."""
        now = timezone.now()
        held = dict(
            Deal.objects.filter(status__in=(DealStatus.PENDING, DealStatus.APPROVED))
            .values_list("account_id", "partner_id")
            .order_by("account_id")
        )
        free = [a for a in plain if a.pk not in held]
        self.rng.shuffle(free)
        active = [p for p in partners if p.status == PartnerStatus.ACTIVE]
        queue = [(self.demo, 0.5, 46), (self.demo, 30, 46)] + [
            (p, 0.5, 46) for p in self.rng.sample(active, k=min(30, len(active)))
        ]
        queue += [(self.demo, 20 * 24, 20 * 24 + 3), (self.demo, 80 * 24, 80 * 24 + 3)]
        direct = [a for a in free if a.direct_rep]
        free = [a for a in free if not a.direct_rep]
        for (partner, low, high), account in zip(queue, free, strict=False):
            submitted = now - timedelta(hours=self.rng.uniform(low, high))
            self._register_now(partner, account, products, submitted_at=submitted)
        taken = {a.pk: a for a in plain if a.pk in held}
        for partner in self.rng.sample(active, k=2):
            account = next(a for pk, a in taken.items() if held[pk] != partner.pk)
            taken.pop(account.pk)
            self._register_now(partner, account, products)
        if direct:
            self._register_now(self.rng.choice(active), direct[0], products)

    def _register_now(self, partner, account, products, *, submitted_at=None) -> Deal | None:
        """A registration by one of the partner's people (just now, without
        ``submitted_at``), approved by the rules' own clock."""
        person = self.rng.choice(self.people[partner.pk]).user
        amount = round_money(Decimal(self.rng.uniform(8_000, 150_000)))
        with suppress(DealError):
            return deal_register(
                partner=partner,
                submitted_by=person,
                customer_name=account.name,
                customer_domain=account.domain,
                amount=amount,
                expected_close=self.today + timedelta(days=self.rng.randint(20, 90)),
                deal_type=self.rng.choice(list(DealType.values)),
                compensation_model=CompensationModel.RESELLER,
                products=self.rng.sample(products, k=1),
                submitted_at=submitted_at,
            )
        return None  # refused (the rules' answer is the refusal itself)

    # ------------------------------------------------------------ lead distribution

    DIRECTORY_BLURBS = (
        "We plan, build and run {topic} for mid-sized companies, from the first workshop "
        "to the support desk.",
        "A team of certified engineers for {topic}: projects in weeks, not quarters.",
        "{topic} specialists with a fixed-price offer and local people who speak your language.",
    )
    ROUTING_RULES = (
        # name, priority, criteria
        ("Security leads to security partners", 10, {"specialty": "security"}),
        ("Data and analytics leads", 20, {"specialty": "data_analytics"}),
        ("EMEA by region", 50, {"region": "emea"}),
        ("German-speaking customers", 60, {"language": "de", "match_language": True}),
        ("Americas by region", 90, {"region": "americas"}),
    )

    def _lead_distribution(self, partners) -> None:
        """RULEBOOK §11 as a channel team meets it on a morning: partners in the directory
        with their routing facts, a few routing rules, and the day's leads routed by them.
        The demo partner (the `partner` login) has three offers waiting for its answer, two
        leads it accepted and one it registered; other partners have offers of their own;
        one lead that no rule fits is back with the managers; and two customers wrote to
        partners through the directory. Everything relative to now, through the services."""
        now = timezone.now()
        program = self.demo.program
        others = [
            p
            for p in partners
            if p.status == PartnerStatus.ACTIVE and p.agreement_signed_on and p.pk != self.demo.pk
        ]
        listed = [self.demo, *self.rng.sample(others, k=min(7, len(others)))]
        plain = [code for code in Specialty.values if code not in ("security", "data_analytics")]
        for index, partner in enumerate(listed):
            # Only the demo partner does security, and three others data and analytics, so
            # that the rules below send those leads to them.
            own = self.rng.sample(plain, k=2)
            if partner.pk == self.demo.pk:
                own = ["security", *own[:1]]
            elif index <= 3:
                own = ["data_analytics", *own[:1]]
            languages = ["en", *self.rng.sample(["de", "fr", "es", "pt", "ja", "zh"], k=1)]
            regions = [partner.region] if partner.region else []
            directory_profile_update(
                partner=partner,
                by=self.people[partner.pk][0].user,
                listed=True,
                description=self.rng.choice(self.DIRECTORY_BLURBS).format(
                    topic=Specialty(own[0]).label.lower()
                ),
                specialties=own,
                regions=regions,
                languages=languages,
            )
            partner_update(
                partner=partner, changed_by=None, lead_specialties=own, lead_languages=languages
            )
        for name, priority, criteria in self.ROUTING_RULES:
            specialty = criteria.get("specialty", "")
            RoutingRule.objects.create(
                program=program,
                name=name,
                priority=priority,
                region=criteria.get("region", ""),
                specialty=specialty,
                match_specialty=bool(specialty),
                match_location=not specialty,
                language=criteria.get("language", ""),
                match_language=criteria.get("match_language", False),
            )
        # Routed over the last two days: each offer has its own time left to answer.
        plan = [
            ("Brightline Security", "security", "emea", 40),  # offered to the demo partner
            ("Kestrel Banking", "security", "americas", 20),
            ("Harbor Logistics", "security", "emea", 2),
            ("Quarry Health", "security", "americas", 30),  # accepted below
            ("Tallis Insurance", "security", "emea", 26),
            ("Meridian Retail", "security", "americas", 44),  # accepted, then registered
            ("Lumen Analytics", "data_analytics", "emea", 10),  # other partners' offers
            ("Cobalt Mining", "data_analytics", "americas", 12),
            ("Oakridge Foods", "data_analytics", "apac", 14),
            ("Vértice Telecom", "data_analytics", "emea", 6),
            ("Sakura Robotics", "training", "apac", 3),  # fits no rule: back to a manager
        ]
        leads = []
        for name, specialty, region, hours in plan:
            at = now - timedelta(hours=hours)
            lead = lead_create(
                company_name=name,
                domain=f"{name.split()[0].lower().replace('é', 'e')}-demo.example",
                source=LeadSource.INBOUND,
                created_at=at - timedelta(minutes=20),
                region=region,
                specialty=specialty,
                language="ja" if region == "apac" else "en",
            )
            leads.append(lead_services.lead_route(lead=lead, now=at))
        person = self.people[self.demo.pk][0].user  # the `partner` login
        for lead, hours in ((leads[3], 6), (leads[4], 3), (leads[5], 40)):
            lead_services.lead_accept(
                lead=lead, partner=self.demo, by=person, now=now - timedelta(hours=hours)
            )
        registered = leads[5]
        deal_register(
            partner=self.demo,
            submitted_by=person,
            customer_name=registered.company_name,
            customer_domain=registered.domain,
            amount=Decimal("48000.00"),
            expected_close=self.today + timedelta(days=45),
            deal_type=DealType.NEW_LOGO,
            compensation_model=CompensationModel.RESELLER,
        )
        for partner, company, contact in (
            (listed[1], "Fernwood Clinics", "Dana Whitfield"),
            (listed[-1], "Polar Freight", "Ilse Berg"),
        ):
            directory_inquiry_submit(
                partner=partner,
                contact_name=contact,
                company_name=company,
                contact_email=f"{contact.split()[0].lower()}@{company.split()[0].lower()}.example",
                domain=f"{company.split()[0].lower()}.example",
                message="We are looking for a partner to help us this quarter. "
                "Could you call us next week?",
            )

    # ------------------------------------------------------------ engagement and closes

    COURSES = [
        "Product deep dive",
        "ICP and positioning workshop",
        "Objection handling",
        "Competitive positioning",
        "Pricing and packaging",
        "Deal registration training",
    ]
    EVENTS = ["Partner summit", "Quarterly roadmap webinar", "Regional roadshow"]

    def _engagement(self, partners) -> None:
        """Portal-login days (imported), training completions and event attendance over
        the six quarters, from each partner's start."""
        window = Quarter.containing(self.today).trailing(6)[0].start
        for partner in partners:
            start = max(window, partner.started_on)
            span = (self.today - start).days
            if span < 1:
                continue
            for member in self.people[partner.pk]:
                keen = self.rng.random() * (1 + partner.tier.rank) / 2
                days = self.rng.sample(range(span), k=min(span, int(keen * span * 0.15)))
                enable.login_days_import(
                    partner=partner,
                    user=member.user,
                    days=[start + timedelta(days=d) for d in days],
                )
                for course in self.rng.sample(self.COURSES, k=self.rng.randint(0, 4)):
                    enable.training_completion_record(
                        partner=partner,
                        user=member.user,
                        course=course,
                        completed_on=start + timedelta(days=self.rng.randrange(span)),
                        recorded_by=None,
                    )
                if self.rng.random() < 0.3 + 0.1 * partner.tier.rank:
                    enable.event_attendance_record(
                        partner=partner,
                        user=member.user,
                        event=self.rng.choice(self.EVENTS),
                        attended_on=start + timedelta(days=self.rng.randrange(span)),
                        recorded_by=None,
                    )

    def _close_past_quarters(self) -> list[str]:
        """Close the last two full quarters in order: scorecards, tier moves, red flags.

        Only quarters whose trailing twelve months lie inside the seeded history, so that
        tier decisions rest on a full year of revenue.
        """
        from scoring.services.close import quarter_close

        quarters = Quarter.containing(self.today).trailing(3)[:-1]
        for quarter in quarters:
            quarter_close(quarter=quarter.label, notify=False)
        return [q.label for q in quarters]

    # ------------------------------------------------------------ dashboard inputs

    def _company_revenue(self) -> None:
        """The company's total revenue per past quarter as finance enters it in the admin
        (partners bring 20–30% of it)."""
        from scoring.models import CompanyRevenue

        finance = User.objects.get(username="finance")
        for quarter in Quarter.containing(self.today).trailing(7)[:-1]:
            won = Deal.objects.filter(
                status=DealStatus.WON, closed_on__range=(quarter.start, quarter.end)
            ).aggregate(total=models.Sum("closed_amount_reporting"))["total"]
            if won:
                share = Decimal(str(round(self.rng.uniform(0.2, 0.3), 3)))
                CompanyRevenue.objects.update_or_create(
                    quarter=quarter.label,
                    defaults={"amount": round_money(won / share), "entered_by": finance},
                )

    # ------------------------------------------------------------ enablement (§10)

    def _relationship(self) -> str:
        """Applications in every stage, the courses of the onboarding plans, the content
        library, and co-marketing campaigns with leads."""
        from enablement.models import CoMarketingActivity, ContentItem, PartnerApplication

        program = Program.objects.get(is_default=True)
        chief = User.objects.get(username="chief")
        managers = list(User.objects.filter(role=Role.CHANNEL_MANAGER).order_by("pk"))
        countries = ["United States", "Germany", "United Kingdom", "Australia", "Singapore"]
        # Applicants must not reuse a partner's domain (application_submit refuses it).
        used: set[str] = set(Partner.objects.values_list("domain", flat=True))
        stages = ["applied"] * 6 + ["qualified"] * 3 + ["declined"] * 2 + ["onboarding"] * 2
        for n, stage in enumerate(stages):
            name, domain = self._company(used)
            application = enable.application_submit(
                company_name=name,
                domain=domain,
                country=self.rng.choice(countries),
                partner_type=self.rng.choice(["reseller", "referral", "co_sell", "oem"]),
                employees=self.rng.randint(3, 400),
                annual_revenue=Decimal(self.rng.randint(2, 400) * 50_000),
                customers_in_segment=self.rng.randint(0, 80),
                technical_staff=self.rng.randint(0, 20),
                contact_name=f"Applicant {n + 1}",
                contact_email=f"partners@{domain}",
                motivation="Our customers ask for the platform and we want to lead with it.",
            )
            PartnerApplication.objects.filter(pk=application.pk).update(
                submitted_at=timezone.now() - timedelta(days=self.rng.randint(1, 60))
            )
            if stage == "applied":
                continue
            if stage == "declined":
                enable.application_decline(
                    application=application, by=chief, reason="Outside our target segment."
                )
                continue
            enable.application_qualify(application=application, by=chief)
            if stage == "onboarding":
                enable.application_approve(
                    application=application,
                    by=chief,
                    agreement_signed_on=self.today - timedelta(days=3),
                    channel_manager=self.rng.choice(managers),
                )
        self._courses_done(self.planned)
        # The content library.
        for title, kind, rank, url in [
            ("Platform battle card", "collateral", 0, "https://vendor.example/battle-card"),
            ("Objection handling playbook", "playbook", 0, "https://vendor.example/objections"),
            ("Pricing and packaging guide", "collateral", 1, "https://vendor.example/pricing"),
            ("Competitive positioning deck", "presentation", 1, "https://vendor.example/compete"),
            (
                "Roadmap preview (next two releases)",
                "presentation",
                2,
                "https://vendor.example/roadmap",
            ),
            ("Co-branded webinar kit", "template", 1, "https://vendor.example/webinar-kit"),
            ("Executive briefing centre guide", "playbook", 3, "https://vendor.example/ebc"),
        ]:
            ContentItem.objects.get_or_create(
                program=program,
                title=title,
                defaults={"kind": kind, "min_tier_rank": rank, "url": url},
            )
        # Co-marketing campaigns with leads.
        plays = list(CoMarketingActivity.objects.filter(program=program))
        active = list(
            Partner.objects.filter(status=PartnerStatus.ACTIVE, tier__rank__gte=1).order_by("pk")
        )
        demo = (
            PartnerUser.objects.filter(user__username="partner")
            .values_list("partner_id", flat=True)
            .first()
        )
        chosen = [p for p in active if p.pk == demo] + self.rng.sample(
            active, k=min(30, len(active))
        )
        campaigns = 0
        for partner in chosen:
            for _ in range(self.rng.randint(1, 2)):
                play = self.rng.choice(plays)
                starts = self.today + timedelta(days=self.rng.randint(-80, 30))
                campaign = enable.campaign_create(
                    partner=partner,
                    by=None,
                    activity=play,
                    name=f"{play.name} {starts:%b %Y}",
                    starts_on=starts,
                    ends_on=starts + timedelta(days=self.rng.choice([0, 1, 14])),
                )
                campaigns += 1
                if starts < self.today:
                    for lead in range(self.rng.randint(0, max(campaign.expected_leads // 4, 1))):
                        enable.campaign_lead_record(
                            campaign=campaign,
                            by=None,
                            company_name=f"Prospect {campaign.pk}-{lead + 1}",
                        )
        return (
            f"{len(stages)} applications, {len(self.planned)} onboarding plans, "
            f"{campaigns} campaigns"
        )

    def _courses_done(self, partners) -> None:
        """The plans' courses of the first weeks were mostly done, late ones often not yet
        (certifications and first registrations ticked their own steps when recorded)."""
        from enablement.models import OnboardingTask

        for task in (
            OnboardingTask.objects.filter(
                partner__in=partners,
                completed_on__isnull=True,
                milestone__auto_event="",
                milestone__certification_type__isnull=True,
                due_on__lt=self.today,
            )
            .select_related("milestone")
            .order_by("pk")
        ):
            if self.rng.random() < 0.8:
                enable.onboarding_task_complete(
                    task=task,
                    by=None,
                    on=task.due_on - timedelta(days=self.rng.randint(0, 6)),
                    note="Completed",
                )

    # ------------------------------------------------------------ incentives and MDF

    def _incentives(self) -> str:
        """What the program owes, in every state: SPIFFs and bonuses of recent wins (claimed,
        approved, paid, rejected, disputed, still to claim), confirmed and proposed awards,
        paid rebates, contributions, and MDF activities from request to reimbursement."""
        from deals.services import deal_accrue_incentives
        from incentives.models import EntryStatus, IncentiveClaim, LedgerEntry
        from incentives.services import contributions as contribution_services
        from incentives.services import mdf as mdf_services
        from incentives.services.claims import (
            claim_approve,
            claim_dispute,
            claim_reject,
            claim_submit,
            ledger_void_lapsed,
        )
        from incentives.services.ledger import award_confirm, ledger_mark_paid

        chief = User.objects.get(username="chief")
        finance = User.objects.get(username="finance")
        since = Quarter.containing(self.today).trailing(3)[0].start
        wins = list(
            Deal.objects.filter(status=DealStatus.WON, closed_on__gte=since)
            .select_related("partner__program", "partner__tier", "partner__channel_manager")
            .order_by("closed_on", "pk")
        )
        for deal in wins:
            deal_accrue_incentives(deal)
        admins = dict(
            PartnerUser.objects.filter(role=PartnerRole.ADMIN).values_list("partner_id", "user_id")
        )
        people = {u.pk: u for u in User.objects.filter(pk__in=admins.values())}
        claimable = (
            LedgerEntry.objects.filter(kind__in=("spiff", "bonus"), status="accrued")
            .select_related("partner__program", "partner__channel_manager")
            .order_by("earned_on", "pk")
        )
        by_deal: dict[tuple, list] = {}
        for entry in claimable:
            by_deal.setdefault((entry.partner_id, entry.source_id), []).append(entry)
        claims = 0
        for (partner_id, _), entries in by_deal.items():
            first = entries[0]
            person = people.get(admins.get(partner_id))
            manager = first.partner.channel_manager or chief
            late = first.claim_by < self.today
            if person is None or self.rng.random() < (0.15 if late else 0.6):
                continue  # never claimed (voided below) or still to claim
            submitted_on = first.earned_on + timedelta(days=self.rng.randint(2, 20))
            submitted_on = min(submitted_on, self.today, first.claim_by)
            claim = claim_submit(
                partner=first.partner,
                entry_ids=[e.pk for e in entries],
                by=person,
                today=submitted_on,
            )
            IncentiveClaim.objects.filter(pk=claim.pk).update(
                submitted_at=timezone.make_aware(datetime.combine(submitted_on, time(10)))
            )
            claims += 1
            if not late and self.rng.random() < 0.5:
                continue  # in the verification queue
            roll = self.rng.random()
            if roll < 0.85:
                claim_approve(claim=claim, by=manager)
            else:
                claim_reject(
                    claim=claim,
                    by=manager,
                    reason="The registration was not approved when the deal closed.",
                )
                if roll > 0.97:
                    claim_dispute(
                        claim=claim,
                        by=person,
                        reason="The registration was approved two days before the close.",
                    )
        ledger_void_lapsed()
        # Awards: the older quarter's are confirmed; the last close's wait for a manager.
        older = Quarter.containing(self.today).trailing(3)[0].label
        for award in LedgerEntry.objects.filter(kind="award", quarter=older, status="accrued"):
            award_confirm(entry=award, by=chief)
        # Finance paid what was owed more than a month ago, in monthly runs.
        cutoff = self.today - timedelta(days=30)
        for month in sorted(
            {
                d.replace(day=1)
                for d in LedgerEntry.objects.filter(
                    status=EntryStatus.APPROVED, earned_on__lt=cutoff
                ).values_list("earned_on", flat=True)
            }
        ):
            ids = LedgerEntry.objects.filter(
                status=EntryStatus.APPROVED,
                earned_on__gte=month,
                earned_on__lt=min(cutoff, (month + timedelta(days=32)).replace(day=1)),
            ).values_list("pk", flat=True)
            ledger_mark_paid(entry_ids=list(ids), by=finance, reference=f"PAY-{month:%Y%m}")
        contributions = self._contributions(contribution_services, admins, people, chief)
        activities = self._mdf(mdf_services, admins, people)
        return (
            f"{LedgerEntry.objects.count()} ledger entries, {claims} claims, "
            f"{contributions} contributions, {activities} MDF activities"
        )

    def _contributions(self, money, admins, people, chief) -> int:
        active = list(
            Partner.objects.filter(status=PartnerStatus.ACTIVE, pk__in=list(admins))
            .select_related("program")
            .order_by("pk")
        )
        count = 0
        titles = {
            "reference": ["Customer case study", "Reference call", "Video testimonial"],
            "community": ["Forum answer on SSO setup", "Blog post: migration tips", "Meetup talk"],
        }
        for partner in self.rng.sample(active, k=min(25, len(active))):
            for _ in range(self.rng.randint(1, 3)):
                kind = self.rng.choice(["reference", "community", "community"])
                contribution = money.contribution_submit(
                    partner=partner,
                    by=people[admins[partner.pk]],
                    kind=kind,
                    title=self.rng.choice(titles[kind]),
                    url=f"https://{partner.domain}/{kind}/{count}",
                )
                count += 1
                roll = self.rng.random()
                if roll < 0.6:
                    money.contribution_decide(contribution=contribution, by=chief, approve=True)
                elif roll < 0.7:
                    money.contribution_decide(
                        contribution=contribution,
                        by=chief,
                        approve=False,
                        reason="Not about our products.",
                    )
        return count

    def _mdf(self, money, admins, people) -> int:
        """MDF activities on the funds the close opened: every state, with proofs, and
        deals they sourced (for the ROI)."""
        from django.core.files.uploadedfile import SimpleUploadedFile

        from incentives.models import MdfFund
        from incentives.proofs import proof_from_upload

        funds = list(
            MdfFund.objects.filter(amount__gt=0, fiscal_year=self.today.year)
            .select_related("partner__program", "partner__channel_manager")
            .order_by("partner_id")
        )
        demo = (
            PartnerUser.objects.filter(user__username="partner")
            .values_list("partner_id", flat=True)
            .first()
        )
        chosen = [f for f in funds if f.partner_id == demo] + self.rng.sample(
            [f for f in funds if f.partner_id != demo], k=min(40, max(len(funds) - 1, 0))
        )
        pdf = b"%PDF-1.4\n% proof of performance\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
        count = 0
        for fund in chosen:
            partner = fund.partner
            person = people.get(admins.get(partner.pk))
            manager = partner.channel_manager or User.objects.get(username="chief")
            if person is None:
                continue
            is_demo = partner.pk == demo
            plans = ["reimbursed", "claimed", "approved_ended", "approved", "submitted"]
            if not is_demo:
                plans = self.rng.sample(plans + ["rejected"], k=self.rng.randint(1, 3))
            for plan in plans:
                kind = self.rng.choice(
                    ["joint_webinar", "event", "digital_ads", "co_branded_content", "tradeshow"]
                )
                fund.refresh_from_db()
                cost = Decimal(int(min(fund.available / 4, Decimal(self.rng.uniform(1500, 9000)))))
                if cost < 100:
                    break
                if plan in ("reimbursed", "claimed", "approved_ended"):
                    ends = self.today - timedelta(days=self.rng.randint(3, 25))
                else:
                    ends = self.today + timedelta(days=self.rng.randint(10, 40))
                    year_end = Quarter.containing(self.today).trailing(1)[0]
                    while year_end.number != 4:
                        year_end = year_end.next()
                    ends = min(ends, year_end.end)  # inside this fiscal year's fund
                starts = max(
                    ends - timedelta(days=self.rng.choice([0, 0, 1, 2])),
                    self.today + timedelta(days=1) if ends > self.today else date.min,
                )
                request = money.mdf_request_submit(
                    partner=partner,
                    by=person,
                    activity_type=kind,
                    title=f"{dict(self.ACTIVITY_TITLES)[kind]} {starts:%b %Y}",
                    planned_cost=cost,
                    starts_on=starts,
                    ends_on=ends,
                    expected_leads=self.rng.randint(20, 150),
                    today=min(self.today, starts - timedelta(days=14)),
                )
                count += 1
                if plan == "submitted":
                    continue
                if plan == "rejected":
                    money.mdf_request_reject(
                        request=request, by=manager, note="Outside the co-marketing plan."
                    )
                    continue
                money.mdf_request_approve(request=request, by=manager)
                if plan in ("approved", "approved_ended"):
                    continue
                claim = money.mdf_claim_submit(
                    request=request,
                    by=person,
                    actual_cost=round_money(cost * Decimal(self.rng.uniform(0.7, 1.2))),
                    leads_generated=self.rng.randint(10, 180),
                    files=[proof_from_upload(SimpleUploadedFile(f"invoice-{request.pk}.pdf", pdf))],
                    today=ends + timedelta(days=2),
                )
                if plan == "reimbursed":
                    money.mdf_claim_approve(claim=claim, by=manager)
                    sourced = list(
                        Deal.objects.filter(partner=partner, submitted_at__date__gt=ends)
                        .order_by("pk")
                        .values_list("pk", flat=True)[: self.rng.randint(1, 3)]
                    )
                    Deal.objects.filter(pk__in=sourced).update(mdf_request=request)
        return count

    ACTIVITY_TITLES = [
        ("joint_webinar", "Joint webinar"),
        ("event", "Customer event"),
        ("digital_ads", "Digital campaign"),
        ("co_branded_content", "Co-branded guide"),
        ("tradeshow", "Tradeshow booth"),
    ]

    # ------------------------------------------------------------ QBRs and business plans

    ACTIVITIES = [
        "Joint webinar each quarter",
        "Co-branded guide for the security add-on",
        "Two reps through the solo demo certification",
        "Customer event in the spring",
        "Case study with the largest won customer",
    ]

    def _qbrs(self) -> str:
        """Business reviews as the quarterly job leaves them, then as managers work them:
        joint business plans for about a third of the reviewed partners (the demo
        partner's included); last quarter's QBRs mostly held (notes, action items mostly
        done, shared with the partner), a few cancelled; this quarter's scheduled on the
        quarter's first day, those already due mostly held, the rest refreshed today."""
        from scoring.models import Qbr
        from scoring.services import reviews as qbr_services

        current = Quarter.containing(self.today)
        last = current.previous()
        chief = User.objects.get(username="chief")
        demo = (
            PartnerUser.objects.filter(user__username="partner")
            .values_list("partner_id", flat=True)
            .first()
        )
        planned = self._business_plans(current, demo, chief)
        qbr_services.qbr_schedule_quarter(quarter=last.label, today=last.start)
        qbr_services.qbr_schedule_quarter(quarter=current.label, today=current.start)
        admins = dict(
            PartnerUser.objects.filter(role=PartnerRole.ADMIN).values_list("partner_id", "user_id")
        )
        people = {u.pk: u for u in User.objects.filter(pk__in=admins.values())}
        held = cancelled = 0
        for qbr in (
            Qbr.objects.filter(quarter__in=(last.label, current.label))
            .select_related("partner__channel_manager", "partner__tier")
            .order_by("quarter", "scheduled_for", "pk")
        ):
            manager = qbr.partner.channel_manager or chief
            is_demo = qbr.partner_id == demo
            if qbr.scheduled_for >= self.today:
                if is_demo:
                    qbr_services.qbr_share(qbr=qbr, by=manager)  # the agenda, ahead of time
                continue
            roll = 0.0 if is_demo else self.rng.random()
            if qbr.quarter == last.label and roll > 0.95:
                qbr_services.qbr_cancel(
                    qbr=qbr, by=manager, reason="The partner asked to skip this quarter."
                )
                cancelled += 1
                continue
            if roll > (0.85 if qbr.quarter == last.label else 0.7):
                continue  # still to be held
            self._hold(qbr, manager, people.get(admins.get(qbr.partner_id)), done=roll < 0.6)
            if is_demo or self.rng.random() < 0.8:
                qbr_services.qbr_share(qbr=qbr, by=manager)
            held += 1
        still = Qbr.objects.filter(quarter=current.label, status="scheduled")
        qbr_services.qbr_refresh(qbrs=list(still))
        return (
            f"{Qbr.objects.count()} QBRs ({held} held, {cancelled} cancelled), "
            f"{planned} joint business plans"
        )

    def _business_plans(self, current: Quarter, demo: int | None, chief: User) -> int:
        """This year's plan for about a third of the partners that have QBRs, and also last
        year's for the demo partner: a goal a quarter above the trailing year's revenue (at
        least the tier's floor), the customers of their largest open registrations."""
        from deals.queries import revenue_by_partner
        from partners.models import ReviewCadence
        from scoring.services import reviews as qbr_services

        reviewed = list(
            Partner.objects.filter(status=PartnerStatus.ACTIVE)
            .exclude(tier__review_cadence=ReviewCadence.NONE)
            .select_related("tier", "channel_manager")
            .order_by("pk")
        )
        chosen = [p for p in reviewed if p.pk == demo]
        chosen += self.rng.sample([p for p in reviewed if p.pk != demo], k=len(reviewed) // 3)
        ids = [p.pk for p in chosen]
        revenue = revenue_by_partner(ids, self.today - timedelta(days=364), self.today)
        accounts: dict[int, list[str]] = {}
        for pid, name in (
            Deal.objects.filter(partner_id__in=ids, status__in=("pending", "approved"))
            .order_by("-amount")
            .values_list("partner_id", "customer_name")
        ):
            accounts.setdefault(pid, []).append(name)
        count = 0
        for partner in chosen:
            goal = max(
                revenue.get(partner.pk, Decimal(0)) * Decimal("1.25"), partner.tier.revenue_floor
            )
            goal = Decimal((int(goal) // 10_000 + 1) * 10_000)
            years = (current.year - 1, current.year) if partner.pk == demo else (current.year,)
            for year in years:
                qbr_services.jbp_save(
                    partner=partner,
                    fiscal_year=year,
                    revenue_goal=goal if year == current.year else goal * Decimal("0.8"),
                    target_accounts="\n".join(accounts.get(partner.pk, [])[:4]),
                    planned_activities="\n".join(self.rng.sample(self.ACTIVITIES, k=3)),
                    notes="Agreed at the business review.",
                    by=partner.channel_manager or chief,
                )
                count += 1
        return count

    def _hold(self, qbr, manager, partner_admin, *, done: bool) -> None:
        """Mark a QBR held on its day, with notes and the action items agreed there, drawn
        from what its sections show."""
        from scoring.services import reviews as qbr_services

        qbr_services.qbr_hold(qbr=qbr, by=manager, held_on=qbr.scheduled_for)
        s = qbr.sections
        deals = s["pipeline"]["deals"]
        top = max(deals, key=lambda d: Decimal(d["amount"]))["customer"] if deals else None
        missing = s["enablement"]["missing"]
        notes, items = [], []
        if top:
            notes.append(f"Walked the pipeline; {top} is the deal to close this quarter.")
            items.append((f"Move {top} to a close", partner_admin, ""))
        else:
            notes.append("No open registration: agreed on three target accounts to register.")
            items.append(("Register the three target accounts", partner_admin, ""))
        if s["win_loss"]["lost"]["count"]:
            notes.append("Went through the losses: pricing came up twice.")
        if missing:
            notes.append(f"{missing} more certified rep(s) needed for the tier.")
            items.append((f"Certify {missing} more rep(s)", partner_admin, ""))
        if s["growth"]["next_tier"]:
            notes.append(f"Gap to {s['growth']['next_tier']} reviewed.")
        if s["escalations"]["count"]:
            notes.append("Open escalations taken to the channel chief.")
        if not s["co_marketing"]["count"]:
            items.append(("Send an MDF request for a joint webinar", None, "Partner marketing"))
        items.append(("Share the updated joint business plan", manager, ""))
        qbr_services.qbr_update(qbr=qbr, by=manager, notes=" ".join(notes))
        for text, owner, owner_name in items[: self.rng.randint(2, 4)]:
            item = qbr_services.qbr_action_item_add(
                qbr=qbr,
                by=manager,
                text=text,
                owner=owner,
                owner_name=owner_name if owner is None else "",
                due_on=qbr.scheduled_for + timedelta(days=self.rng.choice([14, 21, 30, 45])),
            )
            if done and item.due_on < self.today and self.rng.random() < 0.8:
                finished = item.due_on - timedelta(days=self.rng.randint(0, 7))
                qbr_services.qbr_action_item_complete(
                    item=item,
                    by=manager,
                    at=timezone.make_aware(datetime.combine(finished, time(16))),
                )

    # ------------------------------------------------------------ logins

    def _write_logins(self, *, printed: bool) -> None:
        partner = (
            PartnerUser.objects.filter(user__username="partner").select_related("partner").first()
        )
        lines = [
            f"  Demo logins (password for all: {DEMO_PASSWORD})",
            "    admin      vendor admin (Django admin, everything)",
            "    chief      channel chief (all partners)",
            "    exec       executive (read-only, all partners)",
            "    finance    finance (ledger exports and payment runs)",
            "    manager1   channel manager (assigned partners; manager1 … manager10)",
        ]
        if partner:
            lines.append(
                f"    partner    partner admin of {partner.partner.name} ({partner.partner.tier})"
            )
            lines.append(f"    rep        sales rep of {partner.partner.name}")
        text = "\n".join(lines)
        var = Path(settings.BASE_DIR) / "var"
        var.mkdir(exist_ok=True)
        (var / "demo-logins.txt").write_text(text + "\n")
        if printed:
            self.stdout.write(text)
