"""Programs, tiers, partners, their people, customer accounts, CRM leads, tier history."""

from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from knox.models import AbstractAuthToken
from simple_history.models import HistoricalRecords

from prm.deferred_text import text_render
from prm.money import MAX_DEAL_AMOUNT, currency_code, money_field_kwargs
from prm.normalize import (
    domain_skeleton,
    name_skeleton,
    normalize_company_name,
    normalize_domain,
    normalize_host,
)
from prm.roles import Role

RATE = {"max_digits": 6, "decimal_places": 4}
percent = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))]


class User(AbstractUser):
    """Everyone who signs in: partner people and the vendor's staff (see ``prm.roles``)."""

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.PARTNER)
    # The language of the person's e-mails (notices, digests): the pages follow the browser
    # or the language switch, a mail sent by a worker has neither. Empty: the site's default.
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, blank=True, default=""
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        # The staff of a role (the channel managers) among tens of thousands of partner people.
        indexes = [models.Index(fields=["role"], name="user_role")]

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class ApiToken(AbstractAuthToken):
    """An API token (knox): the database keeps its SHA-512 digest and its first characters,
    never the token, which its holder saw once. One per client a person names (a CRM sync,
    a laptop's script); each expires, and each can be revoked alone."""

    client = models.CharField(
        _("client"),
        max_length=100,
        blank=True,
        help_text=_("What the token is for, as named when it was requested."),
    )
    # Set at most once an hour (partners.authentication), so using a token writes nothing
    # on most requests.
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created"]
        indexes = [models.Index(fields=["user", "-created"], name="apitoken_user_created")]

    def __str__(self) -> str:
        return f"{self.token_key[:8]}… ({self.client or self.user})"


def validate_currency(value: str) -> None:
    """A field's check that ``value`` is an active ISO 4217 code (``prm.money.ISO_4217``)."""
    try:
        currency_code(value)
    except ValueError:
        raise ValidationError(
            _("“%(value)s” is not an ISO 4217 currency code (such as USD, EUR or GBP)."),
            params={"value": value},
            code="currency",
        ) from None


class Program(models.Model):
    """A partner program: its tiers and every number of the rulebook as editable data."""

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=40, unique=True)
    is_default = models.BooleanField(default=False)
    description = models.TextField(blank=True)
    currency = models.CharField(
        _("reporting currency"),
        max_length=3,
        default="USD",
        validators=[validate_currency],
        help_text=_(
            "Every sum, tier, rebate and dashboard is in this currency; deals in others "
            "are converted at the rate of the day (ISO 4217)."
        ),
    )
    fiscal_year_start_month = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(12)]
    )

    # §2 scorecard: points per dimension and the targets that earn them in full.
    revenue_points = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("30"))
    pipeline_points = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("20"))
    pipeline_target = models.PositiveIntegerField(default=5)
    certification_points = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("15")
    )
    satisfaction_points = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("20"))
    login_days_points = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("5"))
    login_days_target = models.PositiveIntegerField(default=12)
    training_points = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("5"))
    training_target = models.PositiveIntegerField(default=3)
    events_points = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("5"))
    events_target = models.PositiveIntegerField(default=1)
    band_maintain_from = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("40"))
    band_grow_from = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("60"))
    band_invest_from = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("80"))

    # §3 tier movement.
    advance_after_closes = models.PositiveSmallIntegerField(default=2)
    demote_after_closes = models.PositiveSmallIntegerField(default=2)
    exit_after_closes = models.PositiveSmallIntegerField(default=4)
    fast_track_score = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("80"))
    fast_track_quarter_revenue = models.DecimalField(
        **money_field_kwargs(), default=Decimal("2500000")
    )
    entry_tier_max_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Days a partner may stay at the entry tier (preset 002: 90).",
    )

    # §4 registration and §5 compensation.
    registration_sla_hours = models.PositiveIntegerField(default=48)
    # §11 lead distribution.
    lead_answer_hours = models.PositiveIntegerField(
        default=48,
        validators=[MinValueValidator(1)],
        help_text="Hours a partner has to accept or decline a lead offered to it.",
    )
    lead_max_offers = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1)],
        help_text="Offers of one lead by the routing rules before it returns to the manager.",
    )
    protection_days = models.PositiveIntegerField(default=90)
    extension_days = models.PositiveIntegerField(default=30)
    partner_conflict_sla_hours = models.PositiveIntegerField(default=24)
    unprotected_margin = models.DecimalField(**RATE, default=Decimal("0.10"), validators=percent)
    direct_conflict_partner_share = models.DecimalField(
        **RATE, default=Decimal("0.40"), validators=percent
    )
    co_sell_partner_share = models.DecimalField(**RATE, default=Decimal("0.30"), validators=percent)
    renewal_influence_rate = models.DecimalField(
        **RATE, default=Decimal("0.05"), validators=percent
    )
    oem_discount_min = models.DecimalField(**RATE, default=Decimal("0.40"), validators=percent)
    oem_discount_max = models.DecimalField(**RATE, default=Decimal("0.60"), validators=percent)
    max_deal_amount = models.DecimalField(
        **money_field_kwargs(),
        default=Decimal("100000000"),
        validators=[MinValueValidator(Decimal("1")), MaxValueValidator(MAX_DEAL_AMOUNT)],
        help_text="The largest amount a registration or a win may have.",
    )

    # §8 red-flag thresholds.
    no_deal_days = models.PositiveIntegerField(default=90)
    low_csat_min_responses = models.PositiveIntegerField(default=3)
    low_csat_below = models.DecimalField(max_digits=3, decimal_places=2, default=Decimal("3.5"))
    direct_competition_min_registrations = models.PositiveIntegerField(default=5)
    direct_competition_share = models.DecimalField(
        **RATE, default=Decimal("0.20"), validators=percent
    )

    # §6 incentives: SPIFFs per won deal (they stack).
    spiff_new_logo = models.DecimalField(**money_field_kwargs(), default=Decimal("500"))
    spiff_new_logo_days = models.PositiveIntegerField(
        default=60, help_text="A new-logo deal earns its SPIFF if won within these days."
    )
    spiff_strategic = models.DecimalField(**money_field_kwargs(), default=Decimal("750"))
    spiff_first_deal = models.DecimalField(**money_field_kwargs(), default=Decimal("1000"))
    spiff_large_deal_over = models.DecimalField(**money_field_kwargs(), default=Decimal("100000"))
    spiff_large_deal_rate = models.DecimalField(**RATE, default=Decimal("0.02"), validators=percent)
    # §6 strategic initiative bonuses.
    bonus_cross_sell_rate = models.DecimalField(**RATE, default=Decimal("0.03"), validators=percent)
    bonus_upsell_rate = models.DecimalField(**RATE, default=Decimal("0.02"), validators=percent)
    bonus_multi_year_rate = models.DecimalField(
        **RATE,
        default=Decimal("0.01"),
        validators=percent,
        help_text="Of the amount, per contract year beyond the first.",
    )
    bonus_reference = models.DecimalField(**money_field_kwargs(), default=Decimal("250"))
    bonus_community = models.DecimalField(**money_field_kwargs(), default=Decimal("100"))
    # §6 awards, proposed by the quarter close and confirmed by a manager.
    award_partner_of_quarter = models.DecimalField(**money_field_kwargs(), default=Decimal("5000"))
    award_top_new_logo = models.DecimalField(**money_field_kwargs(), default=Decimal("3000"))
    award_highest_growth = models.DecimalField(**money_field_kwargs(), default=Decimal("4000"))
    award_growth_min_prior = models.DecimalField(
        **money_field_kwargs(),
        default=Decimal("10000"),
        help_text="Highest growth counts only partners with at least this prior-quarter revenue.",
    )
    award_training_champion_per_cert = models.DecimalField(
        **money_field_kwargs(), default=Decimal("1000")
    )
    award_community_mvp = models.DecimalField(**money_field_kwargs(), default=Decimal("500"))
    # §6 claim process and payment terms.
    claim_window_days = models.PositiveIntegerField(
        default=30, help_text="Days after the qualifying event to submit a claim."
    )
    claim_verify_business_days = models.PositiveIntegerField(default=5)
    claim_payment_business_days = models.PositiveIntegerField(default=15)
    rebate_due_days = models.PositiveIntegerField(
        default=30, help_text="Days after the quarter's end a volume rebate is due."
    )
    # §7 MDF.
    mdf_claim_window_days = models.PositiveIntegerField(
        default=30, help_text="Days after an MDF activity ends to file its claim."
    )
    holiday_country = models.CharField(
        max_length=2,
        default="US",
        blank=True,
        help_text="Public holidays of this country (ISO code) are not business days; "
        "add the program's own below.",
    )

    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()  # who changed a rule's number, and when

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_program"
            ),
            models.CheckConstraint(
                condition=Q(fiscal_year_start_month__gte=1, fiscal_year_start_month__lte=12),
                name="program_fiscal_month_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RebateBracket(models.Model):
    """One line of the quarterly volume rebate table (RULEBOOK §6).

    A partner whose quarter revenue reaches ``revenue_from`` (and not the next bracket)
    earns ``rate`` on the whole quarter revenue.
    """

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="rebate_brackets")
    revenue_from = models.DecimalField(**money_field_kwargs())
    rate = models.DecimalField(**RATE, validators=percent)
    fast_track = models.BooleanField(
        default=False, help_text="Reaching this bracket also fast-tracks to the top tier."
    )

    class Meta:
        ordering = ["program", "revenue_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "revenue_from"], name="rebate_bracket_unique_in_program"
            ),
            models.CheckConstraint(
                condition=Q(revenue_from__gt=0), name="rebate_bracket_positive_floor"
            ),
        ]

    def __str__(self) -> str:
        return f"from {self.revenue_from}: {self.rate:%}"


class ProgramHoliday(models.Model):
    """A day off of the program on top of the country's public holidays."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="holidays")
    day = models.DateField()
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["program", "day"]
        constraints = [
            models.UniqueConstraint(fields=["program", "day"], name="program_holiday_unique")
        ]

    def __str__(self) -> str:
        return f"{self.day}: {self.name}"


class ReviewCadence(models.TextChoices):
    NONE = "none", _("No scheduled review")
    ANNUAL = "annual", _("Annual")
    QUARTERLY = "quarterly", _("Quarterly")
    MONTHLY = "monthly", _("Monthly")
    WEEKLY = "weekly", _("Weekly + monthly executive review")


class Tier(models.Model):
    """One rung of a program's tier table (RULEBOOK §1)."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="tiers")
    slug = models.SlugField(max_length=30)
    name = models.CharField(max_length=60)
    rank = models.PositiveSmallIntegerField()
    revenue_floor = models.DecimalField(
        **money_field_kwargs(), default=Decimal("0"), help_text="Trailing-12-month revenue."
    )
    certified_reps_required = models.PositiveIntegerField(default=0)
    open_registrations_required = models.PositiveIntegerField(default=0)
    new_logos_required = models.PositiveIntegerField(
        default=0, help_text="New-logo wins in the last 12 months."
    )
    strategic_wins_required = models.PositiveIntegerField(
        default=0, help_text="Strategic-account wins in the last 12 months."
    )
    margin = models.DecimalField(**RATE, validators=percent)
    referral_commission_rate = models.DecimalField(**RATE, default=Decimal("0"), validators=percent)
    mdf_rate = models.DecimalField(
        **RATE, null=True, blank=True, validators=percent, help_text="Share of prior-year revenue."
    )
    mdf_fund = models.DecimalField(
        **money_field_kwargs(), null=True, blank=True, help_text="Fixed annual fund."
    )
    mdf_match_ratio = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Vendor:partner match r:1; the vendor pays r/(r+1) of the cost.",
    )
    default_annual_quota = models.DecimalField(**money_field_kwargs(), default=Decimal("0"))
    support_level = models.CharField(max_length=120, blank=True)
    review_cadence = models.CharField(
        max_length=20, choices=ReviewCadence.choices, default=ReviewCadence.NONE
    )
    benefits = models.TextField(blank=True, help_text="One benefit per line, shown to partners.")
    lead_capacity = models.PositiveIntegerField(
        default=5, help_text="Open leads a partner of this tier holds at most (RULEBOOK §11)."
    )

    # A tier's thresholds and benefits decide partners' moves and money: who changed them,
    # and when, is kept.
    history = HistoricalRecords()

    class Meta:
        ordering = ["program", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["program", "slug"], name="tier_slug_unique_in_program"),
            models.UniqueConstraint(fields=["program", "rank"], name="tier_rank_unique_in_program"),
            models.CheckConstraint(
                condition=Q(margin__gte=0, margin__lte=1), name="tier_margin_rate"
            ),
            models.CheckConstraint(
                condition=Q(mdf_rate__isnull=True) | Q(mdf_fund__isnull=True),
                name="tier_mdf_rate_or_fund",
            ),
        ]

    # The tier's terms: everything an administrator may change on an existing tier (not its
    # program, slug or rank: partners, scorecards and tier changes point at those). The
    # service, the API and the admin all take their field lists from here.
    TERMS = (
        "name",
        "revenue_floor",
        "certified_reps_required",
        "open_registrations_required",
        "new_logos_required",
        "strategic_wins_required",
        "margin",
        "referral_commission_rate",
        "mdf_rate",
        "mdf_fund",
        "mdf_match_ratio",
        "default_annual_quota",
        "support_level",
        "review_cadence",
        "benefits",
        "lead_capacity",
    )

    def __str__(self) -> str:
        return self.name

    @property
    def benefit_lines(self) -> list[str]:
        """The benefits, one a line, in the reader's language: the presets' lines are in
        the catalogue (``partners.presets``); a line a manager typed shows as typed."""
        return [gettext(line.strip()) for line in self.benefits.splitlines() if line.strip()]

    @property
    def support_level_shown(self) -> str:
        """The support level in the reader's language (as typed, if not a preset's)."""
        return gettext(self.support_level) if self.support_level else ""


class Region(models.TextChoices):
    AMERICAS = "americas", _("Americas")
    EMEA = "emea", _("Europe, Middle East and Africa")
    APAC = "apac", _("Asia-Pacific")


class PartnerStatus(models.TextChoices):
    PROSPECT = "prospect", _("Prospect")
    ONBOARDING = "onboarding", _("Onboarding")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    EXITED = "exited", _("Exited")


class Partner(models.Model):
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="partners")
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="partners")
    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=255)
    # Indexed by partner_domain_unique (equality is the only lookup on it).
    domain_key = models.CharField(max_length=255, editable=False)
    status = models.CharField(
        max_length=20, choices=PartnerStatus.choices, default=PartnerStatus.PROSPECT
    )
    region = models.CharField(
        max_length=10, choices=Region.choices, blank=True, default="", db_default=""
    )
    annual_quota = models.DecimalField(
        **money_field_kwargs(), null=True, blank=True, help_text="Empty: the tier's default."
    )
    currency = models.CharField(
        _("payment currency"),
        max_length=3,
        blank=True,
        default="",
        db_default="",
        validators=[validate_currency],
        help_text=_(
            "The currency the partner is paid in (ISO 4217); empty: the program's. Amounts "
            "owed stay in the reporting currency; each also records its value in this one."
        ),
    )
    agreement_signed_on = models.DateField(null=True, blank=True)
    channel_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="managed_partners",
        limit_choices_to={"role": Role.CHANNEL_MANAGER},
        db_index=False,  # the (channel_manager, status) index serves lookups by manager
    )
    started_on = models.DateField(default=timezone.localdate)
    # What lead routing matches on (RULEBOOK §11): lists, empty for none.
    lead_countries = models.JSONField(
        _("countries covered"),
        default=list,
        blank=True,
        help_text=_("ISO country codes (e.g. DE, FR) of the leads it takes; empty: its region."),
    )
    lead_specialties = models.JSONField(
        _("specialties"), default=list, blank=True, help_text=_("Specialty codes, e.g. security.")
    )
    lead_languages = models.JSONField(
        _("languages"), default=list, blank=True, help_text=_("Language codes, e.g. en, de.")
    )
    # Written by the quarter close (scoring); read by every face.
    latest_score = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    latest_score_quarter = models.CharField(max_length=6, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords(excluded_fields=["latest_score", "latest_score_quarter"])

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["domain_key"], name="partner_domain_unique"),
            models.CheckConstraint(
                condition=Q(annual_quota__isnull=True) | Q(annual_quota__gte=0),
                name="partner_quota_not_negative",
            ),
        ]
        # The quarter close rewrites every partner row: each index here costs it an entry
        # per row. Status and region are only compared for equality, so their indexes are
        # plain ones (a field's db_index would add a second, pattern_ops one for LIKE).
        indexes = [
            models.Index(fields=["channel_manager", "status"]),
            models.Index(fields=["status"], name="partner_status_idx"),
            models.Index(fields=["region"], name="partner_region_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.domain_key = normalize_host(self.domain)
        super().save(*args, **kwargs)

    @property
    def payment_currency(self) -> str:
        """The currency the partner is paid in: its own, or the program's."""
        return self.currency or self.program.currency

    @property
    def effective_annual_quota(self) -> Decimal:
        if self.annual_quota is not None:
            return self.annual_quota
        return self.tier.default_annual_quota


class PartnerRole(models.TextChoices):
    ADMIN = "admin", _("Partner admin")
    REP = "rep", _("Sales rep")


class PartnerUser(models.Model):
    """Membership: a person works for exactly one partner, as its admin or a rep."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="members")
    role = models.CharField(max_length=10, choices=PartnerRole.choices, default=PartnerRole.REP)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Notices created up to then are read: each person reads the partner's notices for
    # themselves (a visit to the portal's home page reads them all).
    notices_seen_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The notices created up to then are in a daily digest already (partners.services.notices).
    notices_mailed_at = models.DateTimeField(null=True, blank=True, editable=False)

    history = HistoricalRecords(excluded_fields=["notices_seen_at", "notices_mailed_at"])

    class Meta:
        ordering = ["partner", "user__username"]
        verbose_name = "partner user"

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}, {self.partner})"


class Account(models.Model):
    """A customer. ``direct_rep`` set means the vendor's own team owns the relationship.

    Its identity is its registrable domain (``domain_key``), or without one its normalised
    name (``name_key``); the two skeletons find a probable same customer (RULEBOOK §4).
    An account a manager judged to be another one's customer is kept, ``merged_into``
    that one, so that its spelling leads there next time.
    """

    name = models.CharField(max_length=200)
    name_key = models.CharField(max_length=200, editable=False, db_index=True)
    domain = models.CharField(max_length=255, blank=True)
    domain_key = models.CharField(max_length=255, editable=False, blank=True)
    domain_skeleton = models.CharField(max_length=255, editable=False, blank=True)
    name_skeleton = models.CharField(max_length=200, editable=False, blank=True)
    direct_rep = models.EmailField(blank=True)
    owning_partner = models.ForeignKey(
        Partner, on_delete=models.SET_NULL, null=True, blank=True, related_name="accounts"
    )
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="aliases",
        help_text="The account this one was found to be: registrations of it go there.",
    )
    separate_from = models.ManyToManyField(
        "self",
        blank=True,
        help_text="Accounts a manager judged to be other customers, though they look alike.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords(excluded_fields=["domain_skeleton", "name_skeleton"])

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["domain_key"],
                condition=~Q(domain_key="") & Q(merged_into__isnull=True),
                name="account_domain_unique",
            ),
            # Without a domain, the name is the customer's identity: one account per name.
            models.UniqueConstraint(
                fields=["name_key"],
                condition=Q(domain_key="") & Q(merged_into__isnull=True),
                name="account_name_unique_no_domain",
            ),
            models.CheckConstraint(
                condition=~Q(merged_into=models.F("pk")), name="account_not_merged_into_itself"
            ),
        ]
        indexes = [
            # Lookups by domain, merged accounts included (the unique index leaves them out).
            models.Index(
                fields=["domain_key"], condition=~Q(domain_key=""), name="account_domain_key_idx"
            ),
            # The probes for a probable same customer (deals.queries.customer_check).
            models.Index(fields=["domain_skeleton"], name="account_domain_skeleton_idx"),
            models.Index(fields=["name_skeleton"], name="account_name_skeleton_idx"),
            # The accounts by name (the admin's list and the API's).
            models.Index(fields=["name"], name="account_name_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.set_keys()
        super().save(*args, **kwargs)

    def set_keys(self) -> None:
        self.name_key = normalize_company_name(self.name)
        self.domain_key = normalize_domain(self.domain)
        self.domain_skeleton = domain_skeleton(self.domain_key)
        self.name_skeleton = name_skeleton(self.name_key)


class LeadSource(models.TextChoices):
    INBOUND = "inbound", _("Inbound")
    OUTBOUND = "outbound", _("Outbound")
    EVENT = "event", _("Event")
    WEBINAR = "webinar", _("Webinar")
    REFERRAL = "referral", _("Referral")
    PARTNER = "partner", _("Partner")
    DIRECTORY = "directory", _("Partner directory")
    OTHER = "other", _("Other")


class LeadStatus(models.TextChoices):
    """Where a lead stands in distribution (RULEBOOK §11)."""

    NEW = "new", _("Not passed on")
    OFFERED = "offered", _("Offered")
    ACCEPTED = "accepted", _("Accepted")
    RETURNED = "returned", _("Returned to the manager")
    CONVERTED = "converted", _("Registered as a deal")
    CLOSED = "closed", _("Closed by the partner")


class LeadCloseReason(models.TextChoices):
    """Why a partner closed a lead it had accepted without registering it."""

    NO_INTEREST = "no_interest", _("No interest")
    NO_BUDGET = "no_budget", _("No budget")
    DUPLICATE = "duplicate", _("Duplicate of another lead")
    UNREACHABLE = "unreachable", _("Could not reach the contact")
    OTHER = "other", _("Other")


class Lead(models.Model):
    """A lead in the vendor's CRM; a registration on its account after it existed is rejected,
    unless the registering partner accepted the lead.

    ``partner`` is the one partner that holds it: offered to it (awaiting its answer until
    ``offer_expires_at``) or accepted by it; once the partner registered the customer
    (``converted``, with ``converted_deal``) or closed it with a reason (``closed``), the
    lead stays that partner's but no longer takes a place of its capacity."""

    company_name = models.CharField(max_length=200)
    name_key = models.CharField(max_length=200, editable=False, db_index=True)
    domain = models.CharField(max_length=255, blank=True)
    domain_key = models.CharField(max_length=255, editable=False, blank=True, db_index=True)
    source = models.CharField(max_length=20, choices=LeadSource.choices, default=LeadSource.INBOUND)
    created_at = models.DateTimeField(default=timezone.now)
    account = models.ForeignKey(
        Account, on_delete=models.SET_NULL, null=True, blank=True, related_name="leads"
    )
    partner = models.ForeignKey(
        Partner,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leads",
        help_text="Partner the lead was passed to, if any; that partner can see it.",
    )
    # What routing matches on; empty: any.
    country = models.CharField(
        _("country"), max_length=2, blank=True, default="", db_default="", help_text=_("ISO code.")
    )
    region = models.CharField(
        _("region"),
        max_length=10,
        choices=Region.choices,
        blank=True,
        default="",
        db_default="",
    )
    specialty = models.CharField(_("specialty"), max_length=40, blank=True, default="")
    language = models.CharField(_("language"), max_length=10, blank=True, default="")
    status = models.CharField(
        _("distribution"),
        max_length=10,
        choices=LeadStatus.choices,
        default=LeadStatus.NEW,
        db_default=LeadStatus.NEW,
    )
    offer_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    accepted_at = models.DateTimeField(null=True, blank=True, editable=False)
    returned_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Offers made by the routing rules since a manager last sent it to be routed.
    rule_offers = models.PositiveSmallIntegerField(default=0, db_default=0, editable=False)
    # The registration the holding partner made of the lead's customer (by a string
    # reference: ``deals`` sits above this app and tells it, through ``lead_convert``).
    converted_deal = models.ForeignKey(
        "deals.Deal",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("registered as"),
    )
    converted_at = models.DateTimeField(_("registered at"), null=True, blank=True, editable=False)
    close_reason = models.CharField(
        _("closed because"),
        max_length=20,
        choices=LeadCloseReason.choices,
        blank=True,
        default="",
        db_default="",
        editable=False,
    )
    close_note = models.TextField(_("closing note"), blank=True, default="", editable=False)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True, editable=False)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("closed by"),
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["new", "returned"], partner__isnull=True)
                | Q(
                    status__in=["offered", "accepted", "converted", "closed"], partner__isnull=False
                ),
                name="lead_held_when_offered_or_accepted",
                violation_error_message=_("An offered or accepted lead has its partner."),
            ),
            models.CheckConstraint(
                condition=~Q(status="closed") | ~Q(close_reason=""),
                name="lead_closed_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status="offered") | Q(offer_expires_at__isnull=False),
                name="lead_offer_has_deadline",
            ),
        ]
        indexes = [
            # The queue (new and returned leads), the inboxes and the pullback job.
            models.Index(fields=["status", "offer_expires_at"], name="lead_status_expiry"),
            models.Index(fields=["partner", "status"], name="lead_partner_status"),
            # The leads accepted in a quarter: the dashboards' lead figures, the close.
            models.Index(
                fields=["accepted_at"],
                name="lead_accepted_at",
                condition=Q(accepted_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.company_name

    def save(self, *args, **kwargs) -> None:
        self.name_key = normalize_company_name(self.company_name)
        self.domain_key = normalize_domain(self.domain)
        super().save(*args, **kwargs)


class RoutingRule(models.Model):
    """A lead routing rule (RULEBOOK §11), tried in ``priority`` order (lowest first).

    A lead fits the rule when it fits each criterion the rule sets (an empty one: any);
    the rule's candidates are the program's active partners in ``tiers`` (empty: any) that
    cover the lead on each dimension the rule names: its country (or, for a partner that
    lists no countries, its region), its specialty, its language."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="routing_rules")
    name = models.CharField(_("name"), max_length=120)
    priority = models.PositiveIntegerField(_("priority"), default=100)
    is_active = models.BooleanField(_("active"), default=True)
    countries = models.JSONField(
        _("countries"),
        default=list,
        blank=True,
        help_text=_("ISO country codes of the leads it routes; empty: any."),
    )
    region = models.CharField(
        _("region"), max_length=10, choices=Region.choices, blank=True, default=""
    )
    match_location = models.BooleanField(
        _("match location"),
        default=True,
        help_text=_("Partners must cover the lead's country or region."),
    )
    specialty = models.CharField(
        _("specialty"),
        max_length=40,
        blank=True,
        help_text=_("Leads of this specialty only, to partners that have it; empty: any."),
    )
    match_specialty = models.BooleanField(
        _("match specialty"),
        default=False,
        help_text=_("Partners must have the lead's specialty."),
    )
    language = models.CharField(
        _("language"),
        max_length=10,
        blank=True,
        help_text=_("Leads in this language only, to partners that speak it; empty: any."),
    )
    match_language = models.BooleanField(
        _("match language"),
        default=False,
        help_text=_("Partners must speak the lead's language."),
    )
    tiers = models.ManyToManyField(
        Tier, blank=True, related_name="+", help_text=_("Partners of these tiers; none: any.")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()  # who changed a rule's fields, and when (not its tiers)

    class Meta:
        ordering = ["program", "priority", "id"]
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")

    def __str__(self) -> str:
        return self.name


class DeclineReason(models.TextChoices):
    NO_CAPACITY = "no_capacity", _("No capacity right now")
    NOT_OUR_MARKET = "not_our_market", _("Not our market or region")
    NO_EXPERTISE = "no_expertise", _("Outside our expertise")
    EXISTING_CUSTOMER = "existing_customer", _("Already our customer or in talks")
    POOR_FIT = "poor_fit", _("Poor fit or not a real opportunity")
    OTHER = "other", _("Other")


class LeadOffer(models.Model):
    """One offer of a lead to a partner, and how it ended: the lead's offer history."""

    class Kind(models.TextChoices):
        RULE = "rule", _("Routing rule")
        MANUAL = "manual", _("Manager")

    class Answer(models.TextChoices):
        PENDING = "pending", _("Awaiting answer")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        EXPIRED = "expired", _("Pulled back unanswered")
        WITHDRAWN = "withdrawn", _("Withdrawn by a manager")

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="offers")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="lead_offers")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.RULE)
    rule = models.ForeignKey(
        RoutingRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    offered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    offered_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    answer = models.CharField(max_length=10, choices=Answer.choices, default=Answer.PENDING)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decline_reason = models.CharField(max_length=20, choices=DeclineReason.choices, blank=True)
    decline_note = models.TextField(blank=True)

    class Meta:
        ordering = ["lead", "offered_at", "id"]
        verbose_name = _("lead offer")
        verbose_name_plural = _("lead offers")
        constraints = [
            # A lead is never offered to two partners at once.
            models.UniqueConstraint(
                fields=["lead"], condition=Q(answer="pending"), name="one_pending_offer_per_lead"
            ),
            models.CheckConstraint(
                condition=~Q(answer="declined") | ~Q(decline_reason=""),
                name="lead_decline_has_reason",
            ),
        ]
        indexes = [
            # Each partner's last offer (the longest wait) and its answers (the figures).
            models.Index(fields=["partner", "offered_at"], name="leadoffer_partner_offered"),
        ]

    def __str__(self) -> str:
        return f"{self.lead} → {self.partner} ({self.answer})"


class ProgramVersion(models.Model):
    """One version of a program's rules (RULEBOOK §12): a snapshot of every number the
    quarter close decides with (scorecard weights and targets, tier movement, each tier's
    requirements and default quota, rebate brackets, award amounts) and of the incentive
    amounts won deals and contributions earn, in ``rules``.

    A draft is a copy a channel chief edits and tries on the last closed quarter; a
    published version decides every close, win and contribution from its
    ``effective_from`` quarter until a later published one takes over (of two effective
    from one quarter, the later number). A version anything was decided under is never
    changed: ``last_used_quarter`` says a close used it, ``decided_entries`` that ledger
    entries of wins or contributions did. ``origin``: recorded from the live program, or a
    draft a chief published.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")

    class Origin(models.TextChoices):
        LIVE = "live", _("The live program")
        DRAFT = "draft", _("A published draft")

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.DRAFT)
    effective_from = models.CharField(
        max_length=6, blank=True, help_text="The first quarter it decides, e.g. 2027Q1."
    )
    rules = models.JSONField(default=dict)
    note = models.CharField(max_length=300, blank=True)
    last_used_quarter = models.CharField(
        max_length=6, blank=True, editable=False, help_text="The latest quarter closed under it."
    )
    decided_entries = models.BooleanField(
        default=False,
        editable=False,
        help_text="Ledger entries of won deals or contributions were decided under it.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["program", "-number"]
        verbose_name = _("program version")
        verbose_name_plural = _("program versions")
        constraints = [
            models.UniqueConstraint(fields=["program", "number"], name="program_version_number"),
            # Versions recorded from the live program may share a quarter (a live edit
            # mid-quarter after a win); only one published draft takes effect from each.
            models.UniqueConstraint(
                fields=["program", "effective_from"],
                condition=Q(status="published", origin="draft"),
                name="one_published_draft_per_quarter",
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | ~Q(effective_from=""),
                name="published_version_has_a_quarter",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.program} v{self.number}"

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT


class TierChangeCause(models.TextChoices):
    INITIAL = "initial", _("Initial placement")
    ADVANCE = "advance", _("Advance")
    FAST_TRACK = "fast_track", _("Fast-track")
    DEMOTE = "demote", _("Demote")
    EXIT = "exit", _("Exit")
    OVERRIDE = "override", _("Manager override")


class TierChange(models.Model):
    """A partner's move between tiers, and why.

    The reason a close or a service gives is kept as an untranslated source
    (``reason_message``) and its values (``reason_params``), put together in the reader's
    language when shown (``prm.deferred_text``); ``reason`` is the same in English, for
    searches, webhooks and the rows from before, which have no source. A manager's override
    reason is what they typed: ``reason`` only."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="tier_changes")
    from_tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    to_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    cause = models.CharField(max_length=20, choices=TierChangeCause.choices)
    quarter = models.CharField(max_length=6, blank=True)
    reason = models.TextField(blank=True)
    reason_message = models.CharField(max_length=300, blank=True, editable=False)
    reason_params = models.JSONField(default=dict, blank=True, editable=False)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)
    # The program version a close decided the change under (none for overrides).
    version = models.ForeignKey(
        ProgramVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        ordering = ["-changed_at", "-id"]
        constraints = [
            # A close decides at most one change per partner per quarter, so a rerun adds none.
            models.UniqueConstraint(
                fields=["partner", "quarter"],
                condition=~Q(quarter="") & ~Q(cause="override"),
                name="one_scheduled_tier_change_per_quarter",
            ),
            models.CheckConstraint(
                condition=~Q(cause="override") | ~Q(reason=""), name="override_needs_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner}: {self.from_tier} → {self.to_tier} ({self.cause})"

    @property
    def shown_reason(self) -> str:
        """The reason in the active language (as typed, or stored, when it has no source)."""
        return text_render(self.reason_message, self.reason_params, fallback=self.reason)


class RedFlagKind(models.TextChoices):
    NO_RECENT_DEAL = "no_recent_deal", _("No recent deal")
    CERT_LAPSED = "cert_lapsed", _("Certification lapsed")
    LOW_CSAT = "low_csat", _("Low customer satisfaction")
    DIRECT_COMPETITION = "direct_competition", _("Direct competition")


class RedFlag(models.Model):
    """A warning about a partner (RULEBOOK §8). At most one open per partner and kind.

    Raised and cleared by the scoring jobs; read by every app (an open ``cert_lapsed``
    flag restricts deal registration), so it lives here with the partner.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="red_flags")
    kind = models.CharField(max_length=30, choices=RedFlagKind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    details = models.JSONField(default=dict, blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "kind"],
                condition=Q(status="open"),
                name="one_open_red_flag_per_kind",
            ),
        ]
        indexes = [models.Index(fields=["partner", "kind", "status"])]

    def __str__(self) -> str:
        return f"{self.partner}: {self.get_kind_display()} ({self.status})"


class NoticeKind(models.TextChoices):
    """What a notice is about: the notification centre filters by it, and each person
    chooses per kind how notices reach them by e-mail."""

    DEALS = "deals", _("Deal registrations")
    LEADS = "leads", _("Leads")
    EARNINGS = "earnings", _("Incentives and claims")
    MDF = "mdf", _("Market development funds")
    ENABLEMENT = "enablement", _("Certifications and enablement")
    REVIEWS = "reviews", _("Business reviews")
    CONFLICTS = "conflicts", _("Channel conflicts")
    INTEGRATIONS = "integrations", _("Webhooks and integrations")
    GENERAL = "general", _("Other")


class Notice(models.Model):
    """A message for a partner's people, shown in the portal (and usually e-mailed too).

    Its words are kept as an untranslated source (``message``) and its values
    (``params``), and put together in the reader's language when shown
    (``prm.deferred_text``); ``text`` is the same in English, for the admin and for the
    notices stored before, which have no ``message``."""

    class Level(models.TextChoices):
        INFO = "info", _("Information")
        SUCCESS = "success", _("Good news")
        WARNING = "warning", _("Needs attention")

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="notices")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notices",
        help_text="Empty: for everyone at the partner.",
    )
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.INFO)
    kind = models.CharField(max_length=20, choices=NoticeKind.choices, default=NoticeKind.GENERAL)
    text = models.CharField(max_length=500)
    message = models.CharField(max_length=500, blank=True, editable=False)
    params = models.JSONField(default=dict, blank=True, editable=False)
    link = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["partner", "created_at"], name="notice_partner_created"),
            # the unread badge: the notices for everyone (user NULL) and one person's, each
            # a range by date (partners.queries.unread_notice_count)
            models.Index(
                fields=["partner", "user", "created_at"], name="notice_partner_user_created"
            ),
            # the notification centre filtered by kind
            models.Index(fields=["partner", "kind", "created_at"], name="notice_partner_kind"),
        ]

    def __str__(self) -> str:
        return self.text

    @property
    def shown_text(self) -> str:
        """The notice in the active language (the stored text for a notice from before)."""
        return text_render(self.message, self.params, fallback=self.text)


class NoticeDelivery(models.TextChoices):
    IMMEDIATELY = "immediately", _("Immediately")
    DAILY = "daily", _("In a daily digest")
    NEVER = "never", _("Never")


class NoticeEmailPreference(models.Model):
    """How one person wants one kind of notice e-mailed. No row: immediately (the
    notices that come with an e-mail are sent as they happen)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notice_preferences"
    )
    kind = models.CharField(max_length=20, choices=NoticeKind.choices)
    delivery = models.CharField(
        max_length=12, choices=NoticeDelivery.choices, default=NoticeDelivery.IMMEDIATELY
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="notice_preference_one_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.kind} {self.delivery}"


class OutreachTask(models.Model):
    """Something a channel manager should do for a partner (e.g. after a red flag)."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DONE = "done", _("Done")

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="outreach_tasks")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="outreach_tasks",
    )
    red_flag = models.ForeignKey(
        RedFlag, on_delete=models.SET_NULL, null=True, blank=True, related_name="tasks"
    )
    title = models.CharField(max_length=200)
    due_on = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["status", "due_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["red_flag"],
                condition=Q(red_flag__isnull=False),
                name="one_task_per_red_flag",
            )
        ]

    def __str__(self) -> str:
        return self.title


class ExchangeRate(models.Model):
    """What one unit of ``currency`` was worth in ``base``, a program's reporting currency,
    on ``day``: the table finance keeps (RULEBOOK §12). An event converts at the newest
    rate on or before its date, at most ``RATE_LOOKBACK_DAYS`` old (rates are published
    on working days), and stores the result; correcting a rate later moves no stored
    amount."""

    currency = models.CharField(max_length=3, help_text=_("ISO 4217 code, e.g. EUR."))
    base = models.CharField(
        max_length=3, help_text=_("The reporting currency the rate converts into, e.g. USD.")
    )
    day = models.DateField()
    rate = models.DecimalField(
        max_digits=20,
        decimal_places=10,
        help_text=_("Units of the reporting currency for one unit of the currency."),
    )
    source = models.CharField(max_length=100, blank=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    entered_at = models.DateTimeField(default=timezone.now)
    history = HistoricalRecords()  # a corrected rate keeps the one it replaced

    class Meta:
        ordering = ["-day", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "base", "day"], name="one_rate_a_day"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="rate_positive"),
            models.CheckConstraint(
                condition=~Q(currency=models.F("base")), name="rate_between_two"
            ),
        ]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.rate} {self.base} on {self.day}"


# ---------------------------------------------------------------- the partner directory


class Specialty(models.TextChoices):
    IMPLEMENTATION = "implementation", _("Implementation")
    INTEGRATION = "integration", _("Integration")
    MANAGED_SERVICES = "managed_services", _("Managed services")
    CLOUD_MIGRATION = "cloud_migration", _("Cloud migration")
    SECURITY = "security", _("Security")
    DATA_ANALYTICS = "data_analytics", _("Data and analytics")
    TRAINING = "training", _("Training")
    CONSULTING = "consulting", _("Consulting")


class Language(models.TextChoices):
    ENGLISH = "en", _("English")
    CHINESE = "zh", _("Chinese")
    SPANISH = "es", _("Spanish")
    FRENCH = "fr", _("French")
    GERMAN = "de", _("German")
    PORTUGUESE = "pt", _("Portuguese")
    JAPANESE = "ja", _("Japanese")
    KOREAN = "ko", _("Korean")
    ARABIC = "ar", _("Arabic")
    HINDI = "hi", _("Hindi")


def codes_stored(codes) -> str:
    """A set of choice codes as one column, wrapped in commas (``,emea,apac,``), so that
    "has this code" is ``__contains=",emea,"`` on every database, SQLite included (which
    has no array type and no JSON containment)."""
    return f",{','.join(codes)}," if codes else ""


def codes_read(stored: str) -> list[str]:
    return [code for code in stored.split(",") if code]


def directory_logo_path(instance: "DirectoryProfile", filename: str) -> str:
    return f"directory/logos/{instance.partner_id}/{filename}"


class DirectoryProfile(models.Model):
    """How a partner shows in the public partner directory (RULEBOOK §11): written by its
    partner admin in the portal; shown only while ``listed`` (the opt-in) and the partner
    is active. The tier badge is the partner's tier, never stored here."""

    partner = models.OneToOneField(
        Partner, on_delete=models.CASCADE, related_name="directory_profile", primary_key=True
    )
    listed = models.BooleanField(_("show in the partner directory"), default=False)
    description = models.TextField(_("description"), max_length=2000, blank=True)
    # Choice codes: Specialty, Region, Language (codes_stored / codes_read).
    specialties = models.CharField(max_length=300, blank=True, default="")
    regions = models.CharField(max_length=100, blank=True, default="")
    languages = models.CharField(max_length=100, blank=True, default="")
    logo = models.FileField(upload_to=directory_logo_path, blank=True, max_length=300)
    logo_type = models.CharField(max_length=30, blank=True, default="")
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("directory profile")
        indexes = [models.Index(fields=["listed"], name="directory_listed_idx")]

    def __str__(self) -> str:
        return str(self.partner_id)

    @property
    def specialty_list(self) -> list[str]:
        return codes_read(self.specialties)

    @property
    def region_list(self) -> list[str]:
        return codes_read(self.regions)

    @property
    def language_list(self) -> list[str]:
        return codes_read(self.languages)

    def specialty_labels(self) -> list[str]:
        return [Specialty(code).label for code in self.specialty_list if code in Specialty.values]

    def region_labels(self) -> list[str]:
        return [Region(code).label for code in self.region_list if code in Region.values]

    def language_labels(self) -> list[str]:
        return [Language(code).label for code in self.language_list if code in Language.values]


class DirectoryInquiry(models.Model):
    """What a customer wrote through "Contact this partner": the lead it became keeps the
    company and domain; the person, their address and their message are kept here."""

    lead = models.OneToOneField(Lead, on_delete=models.CASCADE, related_name="directory_inquiry")
    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="directory_inquiries"
    )
    contact_name = models.CharField(max_length=150)
    contact_email = models.EmailField()
    message = models.TextField(max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["partner", "created_at"], name="directory_inquiry_partner"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_name} ({self.lead_id})"


class ManagerNote(models.Model):
    """A channel manager's note on a partner: internal to the vendor's staff, never shown
    in the partner's portal or API (the partner 360 page lists them)."""

    TEXT_MAX = 4000

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="manager_notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="manager_notes"
    )
    text = models.TextField(max_length=TEXT_MAX)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["partner", "-created_at"], name="managernote_partner_created")
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="managernote_text_not_empty")
        ]

    def __str__(self) -> str:
        return f"{self.partner}: {self.text[:40]}"
