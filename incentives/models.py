"""Money owed to partners: the ledger, incentive claims, contributions, and MDF.

Every amount owed is one ``LedgerEntry`` with an idempotency key unique in the database
(RULEBOOK §6), so no job, retry or double click can accrue or pay twice. Entries point at
what earned them by a generic reference: this app never imports the apps above it.
"""

from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from partners.models import Partner, ProgramVersion
from prm.deferred_text import text_render
from prm.money import RATE_PLACES, money_field_kwargs

USER = settings.AUTH_USER_MODEL


class EntryKind(models.TextChoices):
    SPIFF = "spiff", _("SPIFF")
    COMMISSION = "commission", _("Commission")
    REBATE = "rebate", _("Volume rebate")
    BONUS = "bonus", _("Strategic bonus")
    AWARD = "award", _("Award")
    MDF = "mdf", _("MDF reimbursement")


class EntryStatus(models.TextChoices):
    ACCRUED = "accrued", _("Accrued")
    APPROVED = "approved", _("Approved")
    PAID = "paid", _("Paid")
    VOID = "void", _("Void")


class LedgerEntry(models.Model):
    """One amount owed to a partner: ``accrued → approved → paid``, or ``void``.

    SPIFFs and deal bonuses stay accrued until the partner claims them and a manager
    verifies the claim; an award stays accrued until a manager confirms it; the other
    kinds are approved when they are recorded.
    """

    # Lookups by partner use the (partner, status, earned_on) index, by source the
    # (source_type, source_id) one.
    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="ledger_entries", db_index=False
    )
    kind = models.CharField(max_length=12, choices=EntryKind.choices)
    code = models.CharField(max_length=40, help_text="Which rule earned it, e.g. spiff_new_logo.")
    description = models.CharField(max_length=300)
    # The description as an untranslated source and its values, shown in the reader's
    # language (``shown_description``); empty for an entry recorded before: its English
    # ``description`` is shown.
    description_message = models.CharField(max_length=300, blank=True, editable=False)
    description_params = models.JSONField(default=dict, blank=True, editable=False)
    # What is owed, in the program's reporting currency (every sum reads it) ...
    amount = models.DecimalField(
        **money_field_kwargs(), help_text=_("In the program's reporting currency.")
    )
    currency = models.CharField(max_length=3, default="USD")
    # ... and its value in the currency the partner is paid in at the rate of the accrual
    # date (``earned_on``), stored once (RULEBOOK §12): what the partner sees beside it.
    partner_amount = models.DecimalField(
        **money_field_kwargs(),
        help_text=_("The amount in the partner's payment currency, at the accrual date's rate."),
    )
    partner_currency = models.CharField(max_length=3, default="USD")
    partner_rate = models.DecimalField(
        max_digits=20,
        decimal_places=RATE_PLACES,
        default=1,
        help_text=_("Reporting-currency units for one unit of the partner's currency."),
    )
    partner_rate_day = models.DateField(null=True, blank=True)
    source_type = models.ForeignKey(
        ContentType,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    source_id = models.PositiveBigIntegerField(null=True, blank=True)
    source = GenericForeignKey("source_type", "source_id")
    source_label = models.CharField(max_length=200, blank=True)
    quarter = models.CharField(max_length=6)  # indexed below (equality only: no pattern_ops)
    earned_on = models.DateField(help_text="The qualifying event: a win, a quarter's end, …")
    claim_by = models.DateField(
        null=True, blank=True, help_text="Last day to claim it; empty: no claim needed."
    )
    status = FSMField(
        max_length=10, choices=EntryStatus.choices, default=EntryStatus.ACCRUED, protected=False
    )
    due_on = models.DateField(null=True, blank=True, help_text="When payment is due.")
    idempotency_key = models.CharField(max_length=120, unique=True)
    # The program version in force when the entry was decided (RULEBOOK §12): the one a
    # close's rebates and awards, a win's SPIFFs and bonuses and a contribution's bonus
    # were figured by; for a commission (the agreement's) and an MDF reimbursement (the
    # claim's), the one in force that day. Empty on entries made before versions.
    version = models.ForeignKey(
        ProgramVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    claim = models.ForeignKey(
        "IncentiveClaim",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="entries",
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    payment_reference = models.CharField(max_length=120, blank=True)
    # What was paid, in the partner's currency at the rate of the payment date.
    paid_amount = models.DecimalField(
        **money_field_kwargs(),
        null=True,
        blank=True,
        help_text=_("Paid in the partner's currency, at the payment date's rate."),
    )
    paid_rate = models.DecimalField(
        max_digits=20, decimal_places=RATE_PLACES, null=True, blank=True
    )
    paid_rate_day = models.DateField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    # History rows are read per entry (by id) and by date; the entry's own indexes are not
    # copied onto them (the quarter close writes thousands at once).
    history = HistoricalRecords(
        no_db_index=[
            "partner",
            "source_type",
            "quarter",
            "idempotency_key",
            "claim",
            "approved_by",
            "paid_by",
        ]
    )

    class Meta:
        ordering = ["-earned_on", "-pk"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="ledger_amount_positive"),
            models.CheckConstraint(
                condition=~Q(status="paid") | Q(paid_at__isnull=False),
                name="ledger_paid_has_date",
            ),
            models.CheckConstraint(
                condition=~Q(status="paid") | Q(paid_amount__isnull=False),
                name="ledger_paid_has_amount",
            ),
        ]
        indexes = [
            models.Index(fields=["partner", "status", "earned_on"]),
            models.Index(fields=["status", "due_on"]),
            models.Index(fields=["source_type", "source_id"]),
            # A quarter's entries, and what the dashboard sums of them, from the index alone:
            # every partner's as one range, a few partners' (a channel manager's) as a range
            # each (bench/pages.py, 200 partners: 23-60 ms through the partner index, ~2 ms).
            models.Index(
                fields=["quarter", "partner"],
                include=["kind", "status", "amount"],
                name="ledger_quarter_idx",
            ),
            # The ledger newest first, all partners' (admin, API keyset pages).
            models.Index(fields=["earned_on", "id"], name="ledger_earned_id"),
            # SPIFFs paid in a quarter (the executive dashboard), a few partners' among them.
            models.Index(
                fields=["paid_at"],
                include=["amount", "partner"],
                condition=Q(kind="spiff", status="paid"),
                name="ledger_spiff_paid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency}: {self.description}"

    # The columns in the partner's currency (``amount`` is in ``currency``, the reporting
    # one), for the admin's money display (``prm.admin_money``).
    MONEY_CURRENCIES = {"partner_amount": "partner_currency", "paid_amount": "partner_currency"}

    @property
    def shown_description(self) -> str:
        """The description in the reader's language."""
        return text_render(
            self.description_message, self.description_params, fallback=self.description
        )

    @transition(field=status, source=EntryStatus.ACCRUED, target=EntryStatus.APPROVED)
    def approve(self, *, by, at, due_on) -> None:
        self.approved_by, self.approved_at, self.due_on = by, at, due_on

    @transition(field=status, source=EntryStatus.APPROVED, target=EntryStatus.PAID)
    def pay(self, *, by, at, reference, paid) -> None:
        """``paid``: the amount in the partner's currency at the payment date's rate (a
        ``Converted``: its ``amount``, ``rate`` and ``rate_day``)."""
        self.paid_by, self.paid_at, self.payment_reference = by, at, reference
        self.paid_amount, self.paid_rate, self.paid_rate_day = paid.amount, paid.rate, paid.rate_day

    @transition(field=status, source=EntryStatus.ACCRUED, target=EntryStatus.VOID)
    def void(self, *, at, reason) -> None:
        self.voided_at, self.void_reason = at, reason


class ClaimStatus(models.TextChoices):
    SUBMITTED = "submitted", _("Awaiting verification")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    DISPUTED = "disputed", _("Disputed, with the channel chief")
    UPHELD = "upheld", _("Rejection upheld")


class IncentiveClaim(models.Model):
    """A partner's claim for accrued SPIFFs and bonuses (RULEBOOK §6 claim process)."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="incentive_claims")
    amount = models.DecimalField(**money_field_kwargs())
    note = models.TextField(blank=True)
    status = FSMField(
        max_length=12, choices=ClaimStatus.choices, default=ClaimStatus.SUBMITTED, protected=False
    )
    submitted_at = models.DateTimeField(default=timezone.now)
    submitted_by = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    verify_by = models.DateField(help_text="Verification is due by this business day.")
    overdue_flagged_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    rejection_reason = models.TextField(blank=True)
    disputed_at = models.DateTimeField(null=True, blank=True)
    disputed_by = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    dispute_reason = models.TextField(blank=True)
    dispute_decided_at = models.DateTimeField(null=True, blank=True)
    dispute_decided_by = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    dispute_note = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-submitted_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="claim_amount_positive")
        ]
        indexes = [
            models.Index(fields=["status", "verify_by"]),
            # Claims newest first (the API's list).
            models.Index(fields=["submitted_at", "id"], name="claim_submitted_id"),
        ]

    def __str__(self) -> str:
        return f"Claim {self.pk} by {self.partner}: {self.amount}"

    @transition(field=status, source=ClaimStatus.SUBMITTED, target=ClaimStatus.APPROVED)
    def approve(self, *, by, at) -> None:
        self.decided_by, self.decided_at = by, at

    @transition(field=status, source=ClaimStatus.SUBMITTED, target=ClaimStatus.REJECTED)
    def reject(self, *, by, at, reason) -> None:
        self.decided_by, self.decided_at, self.rejection_reason = by, at, reason

    @transition(field=status, source=ClaimStatus.REJECTED, target=ClaimStatus.DISPUTED)
    def dispute(self, *, by, at, reason) -> None:
        self.disputed_by, self.disputed_at, self.dispute_reason = by, at, reason

    @transition(field=status, source=ClaimStatus.DISPUTED, target=ClaimStatus.APPROVED)
    def overturn(self, *, by, at, note) -> None:
        self.dispute_decided_by, self.dispute_decided_at, self.dispute_note = by, at, note

    @transition(field=status, source=ClaimStatus.DISPUTED, target=ClaimStatus.UPHELD)
    def uphold(self, *, by, at, note) -> None:
        self.dispute_decided_by, self.dispute_decided_at, self.dispute_note = by, at, note


class ContributionKind(models.TextChoices):
    REFERENCE = "reference", _("Customer reference or testimonial")
    COMMUNITY = "community", _("Community contribution (forum answer, blog post)")


class ContributionStatus(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class Contribution(models.Model):
    """A reference or community contribution; approved ones earn a bonus (RULEBOOK §6)."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="contributions")
    kind = models.CharField(max_length=12, choices=ContributionKind.choices)
    title = models.CharField(max_length=200)
    url = models.URLField(blank=True)
    description = models.TextField(blank=True)
    status = models.CharField(
        max_length=10, choices=ContributionStatus.choices, default=ContributionStatus.SUBMITTED
    )
    submitted_at = models.DateTimeField(default=timezone.now)
    submitted_by = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-submitted_at", "-pk"]
        indexes = [models.Index(fields=["status", "decided_at"])]

    def __str__(self) -> str:
        return self.title


# ---------------------------------------------------------------- MDF (RULEBOOK §7)


class MdfFund(models.Model):
    """A partner's market development fund for one fiscal year.

    ``reserved`` is held by approved requests not yet reimbursed; ``reimbursed`` is paid
    out. The database refuses any row where they exceed the fund.
    """

    # Lookups by partner use the (partner, fiscal_year) constraint's index.
    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="mdf_funds", db_index=False
    )
    fiscal_year = models.PositiveSmallIntegerField()
    amount = models.DecimalField(**money_field_kwargs())
    match_ratio = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Vendor:partner match r:1; empty: the vendor pays the whole cost.",
    )
    basis = models.CharField(max_length=200, help_text="How the fund was sized.")
    # The basis the quarter close wrote, as an untranslated source and its values, shown in
    # the reader's language (``shown_basis``); empty for a basis a manager typed.
    basis_message = models.CharField(max_length=200, blank=True, editable=False)
    basis_params = models.JSONField(default=dict, blank=True, editable=False)
    reserved = models.DecimalField(**money_field_kwargs(), default=0)
    reimbursed = models.DecimalField(**money_field_kwargs(), default=0)
    created_at = models.DateTimeField(default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-fiscal_year", "partner"]
        verbose_name = "MDF fund"
        constraints = [
            models.UniqueConstraint(fields=["partner", "fiscal_year"], name="mdf_fund_per_year"),
            models.CheckConstraint(
                condition=Q(amount__gte=0, reserved__gte=0, reimbursed__gte=0),
                name="mdf_fund_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=F("reserved") + F("reimbursed")),
                name="mdf_fund_never_overspent",
            ),
        ]

    def __str__(self) -> str:
        return f"MDF {self.fiscal_year} of {self.partner}"

    @property
    def shown_basis(self) -> str:
        """How the fund was sized, in the reader's language (a manager's words as typed)."""
        return text_render(self.basis_message, self.basis_params, fallback=self.basis)

    @property
    def available(self) -> Decimal:
        return self.amount - self.reserved - self.reimbursed


class ActivityType(models.TextChoices):
    EVENT = "event", _("Event")
    DIGITAL_ADS = "digital_ads", _("Digital ads")
    CONTENT = "content", _("Content")
    TRADESHOW = "tradeshow", _("Tradeshow")
    WEBINAR = "webinar", _("Webinar")
    JOINT_WEBINAR = "joint_webinar", _("Joint webinar")
    CO_BRANDED_CONTENT = "co_branded_content", _("Co-branded content")
    EVENT_SPONSORSHIP = "event_sponsorship", _("Event sponsorship")
    CASE_STUDY = "case_study", _("Case study")


class MdfRequestStatus(models.TextChoices):
    SUBMITTED = "submitted", _("Awaiting pre-approval")
    APPROVED = "approved", _("Approved, funds reserved")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", _("Cancelled")
    CLAIMED = "claimed", _("Claim filed")
    REIMBURSED = "reimbursed", _("Reimbursed")
    EXPIRED = "expired", _("Claim window closed")


class MdfRequest(models.Model):
    """Pre-approval of a marketing activity; approval reserves funds (RULEBOOK §7)."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="mdf_requests")
    fund = models.ForeignKey(MdfFund, on_delete=models.PROTECT, related_name="requests")
    activity_type = models.CharField(max_length=20, choices=ActivityType.choices)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    planned_cost = models.DecimalField(**money_field_kwargs())
    starts_on = models.DateField()
    ends_on = models.DateField()
    expected_leads = models.PositiveIntegerField()
    campaign = models.ForeignKey(
        "enablement.Campaign",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="mdf_requests",
        help_text="The co-marketing campaign this activity funds.",
    )
    status = FSMField(
        max_length=12,
        choices=MdfRequestStatus.choices,
        default=MdfRequestStatus.SUBMITTED,
        protected=False,
    )
    reserved_amount = models.DecimalField(**money_field_kwargs(), default=0)
    claim_due_on = models.DateField(help_text="The claim is due by this day.")
    submitted_at = models.DateTimeField(default=timezone.now)
    submitted_by = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decision_note = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-submitted_at", "-pk"]
        verbose_name = "MDF request"
        constraints = [
            models.CheckConstraint(condition=Q(planned_cost__gt=0), name="mdf_cost_positive"),
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("starts_on")), name="mdf_request_dates_ordered"
            ),
            models.CheckConstraint(
                condition=Q(reserved_amount__gte=0), name="mdf_reservation_not_negative"
            ),
        ]
        indexes = [models.Index(fields=["status", "submitted_at"])]

    def __str__(self) -> str:
        return self.title

    @transition(field=status, source=MdfRequestStatus.SUBMITTED, target=MdfRequestStatus.APPROVED)
    def approve(self, *, by, at, reserved, note="") -> None:
        self.decided_by, self.decided_at = by, at
        self.reserved_amount, self.decision_note = reserved, note

    @transition(field=status, source=MdfRequestStatus.SUBMITTED, target=MdfRequestStatus.REJECTED)
    def reject(self, *, by, at, note) -> None:
        self.decided_by, self.decided_at, self.decision_note = by, at, note

    @transition(
        field=status,
        source=[MdfRequestStatus.SUBMITTED, MdfRequestStatus.APPROVED],
        target=MdfRequestStatus.CANCELLED,
    )
    def cancel(self) -> None:
        self.reserved_amount = 0

    @transition(field=status, source=MdfRequestStatus.APPROVED, target=MdfRequestStatus.CLAIMED)
    def file_claim(self) -> None:
        pass

    @transition(field=status, source=MdfRequestStatus.CLAIMED, target=MdfRequestStatus.APPROVED)
    def reopen(self) -> None:
        pass

    @transition(field=status, source=MdfRequestStatus.CLAIMED, target=MdfRequestStatus.REIMBURSED)
    def reimburse(self) -> None:
        self.reserved_amount = 0

    @transition(field=status, source=MdfRequestStatus.APPROVED, target=MdfRequestStatus.EXPIRED)
    def expire(self) -> None:
        self.reserved_amount = 0


class MdfClaimStatus(models.TextChoices):
    SUBMITTED = "submitted", _("Awaiting review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class MdfClaim(models.Model):
    """Proof of performance for an approved activity, and what it reimburses."""

    request = models.ForeignKey(MdfRequest, on_delete=models.PROTECT, related_name="claims")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="mdf_claims")
    actual_cost = models.DecimalField(**money_field_kwargs())
    leads_generated = models.PositiveIntegerField()
    notes = models.TextField(blank=True)
    status = FSMField(
        max_length=10,
        choices=MdfClaimStatus.choices,
        default=MdfClaimStatus.SUBMITTED,
        protected=False,
    )
    reimbursement = models.DecimalField(**money_field_kwargs(), null=True, blank=True)
    submitted_at = models.DateTimeField(default=timezone.now)
    submitted_by = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        USER, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-submitted_at", "-pk"]
        verbose_name = "MDF claim"
        constraints = [
            models.CheckConstraint(condition=Q(actual_cost__gt=0), name="mdf_actual_positive"),
            models.UniqueConstraint(
                fields=["request"],
                condition=Q(status__in=["submitted", "approved"]),
                name="one_live_claim_per_mdf_request",
            ),
        ]

    def __str__(self) -> str:
        return f"Claim for {self.request}"

    @transition(field=status, source=MdfClaimStatus.SUBMITTED, target=MdfClaimStatus.APPROVED)
    def approve(self, *, by, at, reimbursement) -> None:
        self.decided_by, self.decided_at, self.reimbursement = by, at, reimbursement

    @transition(field=status, source=MdfClaimStatus.SUBMITTED, target=MdfClaimStatus.REJECTED)
    def reject(self, *, by, at, reason) -> None:
        self.decided_by, self.decided_at, self.reason = by, at, reason


def proof_path(instance: "MdfProof", filename: str) -> str:
    return f"mdf/proofs/{instance.claim.partner_id}/{instance.claim_id}/{filename}"


class MdfProof(models.Model):
    """A proof-of-performance file of an MDF claim, kept through Django's storage API."""

    claim = models.ForeignKey(MdfClaim, on_delete=models.CASCADE, related_name="proofs")
    file = models.FileField(upload_to=proof_path, max_length=300)
    name = models.CharField(max_length=200)
    size = models.PositiveIntegerField()
    content_type = models.CharField(max_length=100)
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.name
