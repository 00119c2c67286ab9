"""Factories for every model the tests touch. Partners use the default program's tiers."""

import base64
import hashlib
import hmac
import struct
import time
from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from deals.models import (
    CompensationModel,
    ConflictCase,
    ConflictScenario,
    Deal,
    DealStatus,
    DealType,
    Product,
)
from enablement.models import Certification, CertificationType
from incentives.models import LedgerEntry, MdfFund, MdfRequest
from partners.models import (
    Account,
    Lead,
    Partner,
    PartnerRole,
    PartnerStatus,
    PartnerUser,
    Program,
    RedFlag,
    Tier,
    User,
)
from prm.roles import Role
from scoring.models import Scorecard


def default_tier(slug: str = "registered") -> Tier:
    return Tier.objects.get(program__is_default=True, slug=slug)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    role = Role.PARTNER
    password = factory.PostGenerationMethodCall("set_password", "Correct-Horse-9")

    @factory.post_generation
    def save_password(self, create, extracted, **kwargs):
        if create:
            self.save()


# Staff roles sign in with a second factor (prm.mfa). Every staff user made here has an
# authenticator app with this secret, and recovery codes, so that tests compute real codes;
# ``StaffFactory(mfa=False)`` makes one who has not set it up yet.
STAFF_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def totp_code(secret: str = STAFF_TOTP_SECRET, *, at: float | None = None) -> str:
    """The authenticator app's code for ``secret`` at ``at`` (now): RFC 6238, SHA-1,
    30-second steps, six digits, written out here rather than borrowed from allauth."""
    counter = int((time.time() if at is None else at) // 30)
    digest = hmac.new(
        base64.b32decode(secret, casefold=True), struct.pack(">Q", counter), hashlib.sha1
    ).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def mfa_enrol(user: User, secret: str = STAFF_TOTP_SECRET) -> list[str]:
    """Turn on two-factor sign-in for ``user`` as the set-up page does; returns the
    recovery codes."""
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP

    TOTP.activate(user, secret)
    return RecoveryCodes.activate(user).get_unused_codes()


class StaffFactory(UserFactory):
    role = Role.CHANNEL_MANAGER
    is_staff = True

    @factory.post_generation
    def mfa(self, create, extracted, **kwargs):
        if create and extracted is not False:
            mfa_enrol(self)


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    program = factory.LazyFunction(lambda: Program.objects.get(is_default=True))
    tier = factory.LazyFunction(default_tier)
    name = factory.Sequence(lambda n: f"Partner {n} Ltd")
    domain = factory.Sequence(lambda n: f"partner{n}.example")
    status = PartnerStatus.ACTIVE
    agreement_signed_on = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=400))
    started_on = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=400))


class PartnerUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PartnerUser

    user = factory.SubFactory(UserFactory)
    partner = factory.SubFactory(PartnerFactory)
    role = PartnerRole.REP


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Customer {n} Inc")
    domain = factory.Sequence(lambda n: f"customer{n}.example")


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    company_name = factory.Sequence(lambda n: f"Lead {n} GmbH")
    domain = factory.Sequence(lambda n: f"lead{n}.example")
    source = "inbound"
    created_at = factory.LazyFunction(timezone.now)
    partner = None
    # A lead made with its partner was passed to it directly: that partner holds it, accepted.
    status = factory.LazyAttribute(lambda lead: "accepted" if lead.partner else "new")
    accepted_at = factory.LazyAttribute(lambda lead: lead.created_at if lead.partner else None)


class CertificationTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CertificationType
        django_get_or_create = ["slug"]

    slug = "demo"
    name = "Demo certification"


class CertificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Certification

    user = factory.LazyAttribute(lambda c: PartnerUserFactory(partner=c.partner).user)
    partner = factory.SubFactory(PartnerFactory)
    certification_type = factory.SubFactory(CertificationTypeFactory)
    issued_on = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=30))
    expires_on = factory.LazyAttribute(lambda c: c.issued_on + timedelta(days=730))


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ["slug"]

    slug = factory.Sequence(lambda n: f"product-{n}")
    name = factory.LazyAttribute(lambda p: p.slug.replace("-", " ").title())


class DealFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deal

    partner = factory.SubFactory(PartnerFactory)
    customer_name = factory.Sequence(lambda n: f"Deal customer {n}")
    customer_domain = factory.Sequence(lambda n: f"dealcustomer{n}.example")
    amount = Decimal("50000.00")
    # In the program's currency unless a test says otherwise: the same amount, at rate 1.
    amount_reporting = factory.LazyAttribute(lambda d: d.amount)
    closed_amount_reporting = factory.LazyAttribute(lambda d: getattr(d, "closed_amount", None))
    expected_close = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=60))
    deal_type = DealType.NEW_LOGO
    compensation_model = CompensationModel.RESELLER
    status = DealStatus.PENDING
    submitted_at = factory.LazyFunction(timezone.now)
    csat = None
    csat_recorded_at = None
    # An answer is dated when it was typed in, if a test says so, else on the close date.
    csat_surveyed_on = factory.LazyAttribute(
        lambda d: (
            None
            if d.csat is None
            else timezone.localdate(d.csat_recorded_at)
            if d.csat_recorded_at
            else getattr(d, "closed_on", None)
        )
    )


class WonDealFactory(DealFactory):
    status = DealStatus.WON
    approved_at = factory.LazyAttribute(lambda d: d.submitted_at + timedelta(hours=4))
    closed_on = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=10))
    closed_amount = factory.LazyAttribute(lambda d: d.amount)
    closed_rate = Decimal(1)
    partner_credit = factory.LazyAttribute(lambda d: d.amount)
    margin_rate = Decimal("0.15")


class ConflictCaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConflictCase

    scenario = ConflictScenario.TWO_PARTNERS
    partner = factory.SubFactory(PartnerFactory)
    deal = factory.SubFactory(DealFactory, partner=factory.SelfAttribute("..partner"))
    account = factory.SubFactory(AccountFactory)
    sla_due_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=24))


class RedFlagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RedFlag

    partner = factory.SubFactory(PartnerFactory)
    kind = "no_recent_deal"


class ScorecardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Scorecard

    partner = factory.SubFactory(PartnerFactory)
    quarter = "2026Q3"
    tier_before = factory.LazyAttribute(lambda s: s.partner.tier)
    qualified_tier = factory.LazyAttribute(lambda s: s.partner.tier)
    tier_after = factory.LazyAttribute(lambda s: s.partner.tier)
    revenue = Decimal("10")
    pipeline = Decimal("10")
    certification = Decimal("10")
    satisfaction = Decimal("10")
    engagement = Decimal("10")
    total = Decimal("50")
    band = "maintain"
    closed_at = factory.LazyFunction(timezone.now)
    # What the close stores (scoring.services.close._stored_inputs).
    inputs = factory.LazyFunction(
        lambda: {
            "quarter_revenue": "50000.00",
            "quarterly_quota": "150000.00",
            "approved_registrations": 2,
            "pipeline_target": 5,
            "certified_reps": 1,
            "reps_required": 2,
            "csat_responses": 2,
            "csat_average": "4.00",
            "login_days": 6,
            "trainings": 1,
            "events": 0,
            "trailing_revenue": "200000.00",
            "open_registrations": 1,
            "new_logos": 0,
            "strategic_wins": 0,
        }
    )


class LedgerEntryFactory(factory.django.DjangoModelFactory):
    """An accrued SPIFF, claimable for 30 days from today."""

    class Meta:
        model = LedgerEntry

    partner = factory.SubFactory(PartnerFactory)
    kind = "spiff"
    code = "spiff_strategic"
    description = "Strategic product line"
    amount = Decimal("750.00")
    partner_amount = factory.LazyAttribute(lambda e: e.amount)
    status = "accrued"
    paid_amount = factory.LazyAttribute(lambda e: e.amount if e.status == "paid" else None)
    quarter = "2026Q4"
    earned_on = factory.LazyFunction(timezone.localdate)
    claim_by = factory.LazyAttribute(lambda e: e.earned_on + timedelta(days=30))
    idempotency_key = factory.Sequence(lambda n: f"test:{n}")


class MdfFundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MdfFund

    partner = factory.SubFactory(PartnerFactory)
    fiscal_year = factory.LazyFunction(lambda: timezone.localdate().year)
    amount = Decimal("10000.00")
    basis = "Silver: 2% of 500,000.00 prior-year revenue"


class MdfRequestFactory(factory.django.DjangoModelFactory):
    """A submitted request for an activity next week."""

    class Meta:
        model = MdfRequest

    fund = factory.SubFactory(MdfFundFactory)
    partner = factory.SelfAttribute("fund.partner")
    activity_type = "webinar"
    title = factory.Sequence(lambda n: f"Webinar {n}")
    planned_cost = Decimal("4000.00")
    starts_on = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=7))
    ends_on = factory.LazyAttribute(lambda r: r.starts_on)
    expected_leads = 50
    claim_due_on = factory.LazyAttribute(lambda r: r.ends_on + timedelta(days=30))
