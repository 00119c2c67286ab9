"""Deal registrations, products and channel-conflict cases (RULEBOOK §4, §5, §9).

Status changes happen only through the transitions below (django-fsm), called by the
services in ``deals.services``; every change is kept with who and when by
django-simple-history.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from partners.models import Account, Partner, validate_currency
from prm.money import RATE_PLACES, money_field_kwargs


class Product(models.Model):
    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    strategic = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DealStatus(models.TextChoices):
    PENDING = "pending", _("Pending approval")
    APPROVED = "approved", _("Approved")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")
    EXPIRED = "expired", _("Expired")
    REJECTED = "rejected", _("Rejected")


class DealType(models.TextChoices):
    NEW_LOGO = "new_logo", _("New logo")
    UPSELL = "upsell", _("Upsell")
    CROSS_SELL = "cross_sell", _("Cross-sell")
    RENEWAL = "renewal", _("Renewal")


class CompensationModel(models.TextChoices):
    RESELLER = "reseller", _("Reseller")
    REFERRAL = "referral", _("Referral")
    CO_SELL = "co_sell", _("Co-sell")
    OEM = "oem", _("OEM")


class ReviewReason(models.TextChoices):
    """Why a registration is held for a manager: another partner holds an open registration
    on a customer that is probably this one (RULEBOOK §4)."""

    SAME_NAME = "same_name", _("The same company name under another domain")
    OTHER_SUFFIX = "other_suffix", _("The same domain name under another ending")
    CONFUSABLE = "confusable", _("A name or domain that differs only by look-alike characters")
    REGIONAL_SUFFIX = "regional_suffix", _("The same name but for a regional or group suffix")
    SAME_DOMAIN = "same_domain", _("The same registrable domain (found when keys were updated)")


class Deal(models.Model):
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="deals")
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, null=True, blank=True, related_name="deals"
    )
    customer_name = models.CharField(max_length=200)
    customer_domain = models.CharField(max_length=255, blank=True)
    # What the partner typed, in the deal's own currency (ISO 4217) ...
    amount = models.DecimalField(**money_field_kwargs())
    currency = models.CharField(max_length=3, default="USD", validators=[validate_currency])
    # ... and in the program's reporting currency at the rate of the registration's day,
    # stored once and never converted again (RULEBOOK §12): every sum reads this one.
    amount_reporting = models.DecimalField(
        **money_field_kwargs(),
        help_text=_("The amount in the program's reporting currency, at the registration's rate."),
    )
    amount_rate = models.DecimalField(
        max_digits=20,
        decimal_places=RATE_PLACES,
        default=1,
        help_text=_("Reporting-currency units for one unit of the deal's currency."),
    )
    amount_rate_day = models.DateField(
        null=True, blank=True, help_text=_("The rate's day; empty: the same currency.")
    )
    expected_close = models.DateField()
    products = models.ManyToManyField(Product, blank=True, related_name="deals")
    deal_type = models.CharField(max_length=20, choices=DealType.choices)
    compensation_model = models.CharField(max_length=20, choices=CompensationModel.choices)
    contract_years = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    notes = models.TextField(blank=True)

    status = FSMField(
        max_length=20, choices=DealStatus.choices, default=DealStatus.PENDING, db_index=True
    )
    reason = models.CharField(
        max_length=60, blank=True, help_text="Why it was rejected (a code, e.g. existing_lead)."
    )
    reason_note = models.TextField(blank=True, help_text="The manager's words, if any.")
    submitted_at = models.DateTimeField()
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    auto_approved = models.BooleanField(default=False)
    rejected_at = models.DateTimeField(null=True, blank=True)
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    expires_on = models.DateField(null=True, blank=True)
    extended = models.BooleanField(default=False)
    extension_justification = models.TextField(blank=True)
    extended_at = models.DateTimeField(null=True, blank=True)
    extended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    expired_at = models.DateTimeField(null=True, blank=True)
    direct_conflict = models.BooleanField(default=False)
    co_sell_partner_share = models.DecimalField(
        max_digits=6,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="Co-sell: the partner's negotiated share (default: the program's).",
    )
    oem_discount = models.DecimalField(
        max_digits=6,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="OEM: the agreed discount off list, within the program's range.",
    )
    mdf_request = models.ForeignKey(
        "incentives.MdfRequest",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sourced_deals",
        help_text="The MDF activity that sourced this deal (for MDF ROI).",
    )
    imported = models.BooleanField(default=False, help_text="Loaded from another system.")
    needs_review = models.BooleanField(
        default=False,
        help_text="Held for a manager: probably a customer another partner holds.",
    )
    review_reason = models.CharField(max_length=20, choices=ReviewReason.choices, blank=True)
    review_match = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The other partner's open registration this one probably duplicates.",
    )

    closed_on = models.DateField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    closed_amount = models.DecimalField(**money_field_kwargs(), null=True, blank=True)
    closed_amount_reporting = models.DecimalField(
        **money_field_kwargs(),
        null=True,
        blank=True,
        help_text=_("The won amount in the reporting currency, at the rate of the close date."),
    )
    closed_rate = models.DecimalField(
        max_digits=20, decimal_places=RATE_PLACES, null=True, blank=True
    )
    closed_rate_day = models.DateField(null=True, blank=True)
    # What the win earns (RULEBOOK §5), from the reporting amount: in the reporting currency.
    protected_when_won = models.BooleanField(null=True, blank=True)
    margin_rate = models.DecimalField(max_digits=6, decimal_places=4, null=True, blank=True)
    partner_credit = models.DecimalField(**money_field_kwargs(), null=True, blank=True)
    partner_price = models.DecimalField(**money_field_kwargs(), null=True, blank=True)
    commission = models.DecimalField(**money_field_kwargs(), null=True, blank=True)
    csat = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    csat_recorded_at = models.DateTimeField(null=True, blank=True)
    csat_surveyed_on = models.DateField(
        null=True,
        blank=True,
        help_text="When the customer answered the survey: the CSAT counts in that quarter.",
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-submitted_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="deal_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(csat__isnull=True) | Q(csat__gte=1, csat__lte=5), name="deal_csat_1_5"
            ),
            models.CheckConstraint(
                condition=Q(closed_amount__isnull=True) | Q(closed_amount_reporting__isnull=False),
                name="deal_closed_amount_converted",
            ),
            models.CheckConstraint(
                condition=~Q(status="won")
                | Q(closed_on__isnull=False, partner_credit__isnull=False),
                name="won_deal_has_close_and_credit",
            ),
            # First to register wins: one open registration per customer account, enforced
            # by the database so that no race can ever leave two.
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(status__in=["pending", "approved"]),
                name="one_open_registration_per_account",
            ),
            models.CheckConstraint(
                condition=~Q(status="approved") | Q(expires_on__isnull=False),
                name="approved_deal_has_expiry",
            ),
            models.CheckConstraint(
                condition=Q(needs_review=False) | Q(status="pending"),
                name="only_pending_deal_needs_review",
            ),
            models.CheckConstraint(
                condition=Q(csat__isnull=True) | Q(csat_surveyed_on__isnull=False),
                name="deal_csat_has_survey_date",
            ),
        ]
        indexes = [
            models.Index(fields=["partner", "status", "closed_on"]),
            models.Index(fields=["partner", "submitted_at"]),
            models.Index(fields=["account", "status"]),
            # A partner's registrations open on a day (pending ones have no expiry yet).
            models.Index(fields=["partner", "expires_on"]),
            # The managers' review queue.
            models.Index(
                fields=["submitted_at"], condition=Q(needs_review=True), name="deal_review_queue"
            ),
            # Every list of all registrations, newest first (the admin's, the API's keyset
            # pages for chiefs and executives): read backwards, a page at a time.
            models.Index(fields=["submitted_at", "id"], name="deal_submitted_id"),
            # Wins of every partner by close date, with their credit: the dashboard's
            # quarter to date, read from the index alone. Its condition names the credit
            # (set on every win) so that only a statement naming it too uses the index:
            # reads of some partners' wins keep the (partner, status, closed_on) index,
            # which the planner would otherwise leave for this one (bench/pages.py).
            models.Index(
                fields=["closed_on"],
                include=["partner_credit"],
                condition=Q(status="won", partner_credit__isnull=False),
                name="deal_won_closed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_name} ({self.partner})"

    # The columns in the reporting currency (the others are in the deal's ``currency``),
    # for the admin's money display (``prm.admin_money``).
    MONEY_CURRENCIES = dict.fromkeys(
        (
            "amount_reporting",
            "closed_amount_reporting",
            "partner_credit",
            "partner_price",
            "commission",
        ),
        "reporting_currency",
    )

    @property
    def reporting_currency(self) -> str:
        """The program's reporting currency, which the stored conversions are in."""
        return self.partner.program.currency

    # Transitions: each records who and when; the services decide whether to call them.

    @transition(field=status, source=DealStatus.PENDING, target=DealStatus.APPROVED)
    def approve(self, *, by, at, expires_on, auto: bool = False) -> None:
        self.approved_by, self.approved_at = by, at
        self.expires_on = expires_on
        self.auto_approved = auto

    @transition(field=status, source=DealStatus.PENDING, target=DealStatus.REJECTED)
    def reject(self, *, by, at, reason: str, note: str = "") -> None:
        self.rejected_by, self.rejected_at = by, at
        self.reason, self.reason_note = reason, note

    @transition(
        field=status,
        source=[DealStatus.PENDING, DealStatus.APPROVED, DealStatus.EXPIRED],
        target=DealStatus.WON,
    )
    def win(self, *, by, at, closed_on, amount, reporting, rate, rate_day) -> None:
        self.closed_by, self.closed_at = by, at
        self.closed_on, self.closed_amount = closed_on, amount
        self.closed_amount_reporting, self.closed_rate = reporting, rate
        self.closed_rate_day = rate_day

    @transition(
        field=status,
        source=[DealStatus.PENDING, DealStatus.APPROVED, DealStatus.EXPIRED],
        target=DealStatus.LOST,
    )
    def lose(self, *, by, at, closed_on) -> None:
        self.closed_by, self.closed_at = by, at
        self.closed_on = closed_on

    @transition(field=status, source=DealStatus.APPROVED, target=DealStatus.EXPIRED)
    def expire(self, *, at) -> None:
        self.expired_at = at

    @property
    def is_open(self) -> bool:
        return self.status in (DealStatus.PENDING, DealStatus.APPROVED)

    def protection_days_left(self, today) -> int | None:
        if self.status != DealStatus.APPROVED or self.expires_on is None:
            return None
        return max((self.expires_on - today).days, 0)


class ConflictScenario(models.TextChoices):
    PARTNER_VS_DIRECT = "partner_vs_direct", _("Partner vs direct rep on an account")
    TWO_PARTNERS = "two_partners", _("Two partners on one account")
    POACHING = "poaching", _("Partner poaching another's customer")
    DIRECT_TARGETING = "direct_targeting", _("Direct team targeting a partner account")


class EscalationStep(models.TextChoices):
    NONE = "none", _("None")
    WARNING = "warning", _("Warning")
    PROBATION = "probation", _("Probation")
    TERMINATION = "termination", _("Termination")


class ConflictCase(models.Model):
    """A channel conflict to resolve within its SLA (RULEBOOK §9)."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")

    scenario = models.CharField(max_length=30, choices=ConflictScenario.choices)
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, null=True, blank=True, related_name="conflicts"
    )
    partner = models.ForeignKey(
        Partner,
        on_delete=models.CASCADE,
        related_name="conflicts",
        help_text="The partner whose action raised the case.",
    )
    other_partner = models.ForeignKey(
        Partner,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="conflicts_against",
    )
    deal = models.ForeignKey(
        Deal, on_delete=models.CASCADE, null=True, blank=True, related_name="conflicts"
    )
    other_deal = models.ForeignKey(
        Deal, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    direct_rep = models.EmailField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField(default=timezone.now)
    sla_due_at = models.DateTimeField()
    escalation_step = models.CharField(
        max_length=20, choices=EscalationStep.choices, default=EscalationStep.NONE
    )
    escalated_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["sla_due_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["deal", "scenario"],
                condition=Q(deal__isnull=False),
                name="one_case_per_deal_and_scenario",
            ),
        ]
        indexes = [models.Index(fields=["status", "sla_due_at"])]

    def __str__(self) -> str:
        return f"{self.get_scenario_display()}: {self.account or self.partner}"

    @property
    def overdue(self) -> bool:
        return self.status == self.Status.OPEN and self.sla_due_at < timezone.now()


# ---------------------------------------------------------------- quarter summaries


class SummarizedQuarter(models.Model):
    """A quarter whose deals are summed per partner in ``DealQuarter`` rows, so dashboards
    read the sums instead of scanning the quarter's deals.

    Written nightly: the open quarter as of that day, an ended quarter once more after its
    end (then ``as_of`` is its end and the summary is complete). Registrations, wins,
    losses and rejections refresh their partner's rows in between."""

    quarter = models.CharField(max_length=6, unique=True)
    start = models.DateField()
    end = models.DateField()
    as_of = models.DateField(help_text="The day the pipeline is counted on: the end, or today.")
    partners = models.PositiveIntegerField(default=0, help_text="Partners with a row.")
    written_at = models.DateTimeField()

    class Meta:
        ordering = ["-start"]

    def __str__(self) -> str:
        return f"{self.quarter} summarised {self.written_at:%Y-%m-%d %H:%M}"


class DealQuarter(models.Model):
    """One partner's deals in one quarter, summed: wins (amounts and credit, sourced and
    assisted), losses, direct-conflict outcomes, the open pipeline on the summary's
    ``as_of`` day, and the credit of the year that ends with the quarter."""

    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="deal_quarters", db_index=False
    )
    quarter = models.CharField(max_length=6)
    won_deals = models.PositiveIntegerField(default=0)
    won_priced = models.PositiveIntegerField(default=0, help_text="Wins with a closed amount.")
    won_amount = models.DecimalField(**money_field_kwargs(), default=0)
    won_credit = models.DecimalField(**money_field_kwargs(), default=0)
    sourced_amount = models.DecimalField(**money_field_kwargs(), default=0)
    assisted_amount = models.DecimalField(**money_field_kwargs(), default=0)
    lost_deals = models.PositiveIntegerField(default=0)
    won_direct = models.PositiveIntegerField(default=0)
    closed_direct = models.PositiveIntegerField(default=0)
    pipeline_deals = models.PositiveIntegerField(default=0)
    pipeline_amount = models.DecimalField(**money_field_kwargs(), default=0)
    year_credit = models.DecimalField(
        **money_field_kwargs(),
        default=0,
        help_text="Partner credit of wins closed in the four quarters ending with this one.",
    )

    class Meta:
        ordering = ["-quarter", "partner"]
        constraints = [
            models.UniqueConstraint(fields=["quarter", "partner"], name="one_deal_quarter_row")
        ]
        # The dashboard's top partners (the quarter's largest credit first), its revenue
        # series and revenue concentration, each read from the index alone (bench/pages.py:
        # the series of six quarters over 120,000 rows 50-60 ms from the table, 23-28 ms).
        indexes = [
            models.Index(
                fields=["quarter", "-won_credit"],
                include=["won_deals", "year_credit", "partner"],
                name="deal_quarter_sums",
            ),
            # Partner first, with the sums the series reads: a few partners' quarters (a
            # channel manager's dashboard) are a range each of the index alone (bench/pages.py,
            # 200 partners' six quarters: 27-56 ms through ``deal_quarter_sums``, ~2 ms).
            # An index, not the unique constraint: SQLite builds no constraint with columns
            # included, and the summaries' upsert needs the constraint.
            models.Index(
                fields=["partner", "quarter"],
                include=["won_credit", "won_deals", "year_credit"],
                name="deal_quarter_partner",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner_id} {self.quarter}: {self.won_credit}"
