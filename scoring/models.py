"""The quarter close: its runs and the scorecards it writes (RULEBOOK §2, §3); QBRs and
joint business plans (§10)."""

from datetime import date

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from partners.models import Partner, ProgramVersion, ReviewCadence, Tier
from prm.money import money_field_kwargs
from prm.quarters import Quarter


class Band(models.TextChoices):
    PROBATION = "probation", _("Probation (< 40)")
    MAINTAIN = "maintain", _("Maintain (40–59.99)")
    GROW = "grow", _("Grow (60–79.99)")
    INVEST = "invest", _("Invest (≥ 80)")


class Decision(models.TextChoices):
    STAY = "stay", _("Stay")
    ADVANCE = "advance", _("Advance")
    FAST_TRACK = "fast_track", _("Fast-track")
    DEMOTE = "demote", _("Demote")
    EXIT = "exit", _("Exit")


POINTS = {"max_digits": 5, "decimal_places": 2}


class Scorecard(models.Model):
    """One partner's quarter: inputs, the five dimensions, total, band and tier decision.

    Keyed by (partner, quarter): a rerun of the close overwrites it with the same result.
    """

    # Lookups by partner use one_scorecard_per_quarter (partner, quarter). The tiers are not
    # indexed either: a program has four, no read filters scorecards by one, and the close
    # writes 20,000 rows a quarter; deleting a tier (which PROTECT refuses anyway) scans.
    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="scorecards", db_index=False
    )
    quarter = models.CharField(max_length=6)
    tier_before = models.ForeignKey(
        Tier, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    qualified_tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    meets_lowest = models.BooleanField(default=True)
    decision = models.CharField(max_length=20, choices=Decision.choices, default=Decision.STAY)
    tier_after = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+", db_index=False)
    inputs = models.JSONField(default=dict)
    revenue = models.DecimalField(**POINTS)
    pipeline = models.DecimalField(**POINTS)
    certification = models.DecimalField(**POINTS)
    satisfaction = models.DecimalField(**POINTS)
    engagement = models.DecimalField(**POINTS)
    total = models.DecimalField(**POINTS)
    band = models.CharField(max_length=10, choices=Band.choices)
    csat_no_data = models.BooleanField(default=False)
    closed_at = models.DateTimeField()
    # The program version the close decided it under (RULEBOOK §12): with ``inputs``, what
    # it is replayed from.
    version = models.ForeignKey(
        ProgramVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        ordering = ["-quarter", "partner"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "quarter"], name="one_scorecard_per_quarter"
            ),
            models.CheckConstraint(
                condition=Q(total__gte=0, total__lte=100), name="scorecard_total_0_100"
            ),
        ]
        # A quarter's bands on the dashboard, from the index alone (20,000 scorecards:
        # 15 ms from the table, 4 ms).
        indexes = [
            models.Index(fields=["quarter", "band"], include=["total"], name="scorecard_quarter")
        ]

    def __str__(self) -> str:
        return f"{self.partner} {self.quarter}: {self.total}"


class DisputeStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ANSWERED = "answered", _("Answered")


DISPUTE_TEXT_MAX = 2000


class ScorecardDispute(models.Model):
    """A partner's objection to one of its scorecards, and the channel manager's answer
    (RULEBOOK §2). At most one is open per scorecard; answered ones are kept."""

    scorecard = models.ForeignKey(Scorecard, on_delete=models.CASCADE, related_name="disputes")
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    reason = models.TextField(max_length=DISPUTE_TEXT_MAX)
    raised_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=DisputeStatus.choices, default=DisputeStatus.OPEN
    )
    answer = models.TextField(max_length=DISPUTE_TEXT_MAX, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-raised_at", "-pk"]
        verbose_name = "scorecard dispute"
        constraints = [
            models.UniqueConstraint(
                fields=["scorecard"],
                condition=Q(status="open"),
                name="one_open_dispute_per_scorecard",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="dispute_has_a_reason"),
            models.CheckConstraint(
                condition=Q(status="open", answered_at__isnull=True)
                | (Q(status="answered", answered_at__isnull=False) & ~Q(answer="")),
                name="dispute_answered_has_an_answer",
            ),
        ]
        indexes = [models.Index(fields=["status", "raised_at"], name="dispute_status_raised")]

    def __str__(self) -> str:
        return f"Dispute of {self.scorecard}"

    @property
    def is_open(self) -> bool:
        return self.status == DisputeStatus.OPEN


class QuarterClose(models.Model):
    """One quarter's close: its state, counts and timings (a rerun updates the same row)."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    quarter = models.CharField(max_length=6, unique=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When a queued close was last handed to the broker."
    )
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    partners_total = models.PositiveIntegerField(default=0)
    partners_done = models.PositiveIntegerField(default=0)
    tier_changes = models.PositiveIntegerField(default=0)
    flags_opened = models.PositiveIntegerField(default=0)
    rebates = models.PositiveIntegerField(default=0, help_text="Volume rebates owed.")
    awards_proposed = models.PositiveIntegerField(default=0)
    runs = models.PositiveIntegerField(default=0)
    timings = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-quarter"]

    def __str__(self) -> str:
        return f"Close of {self.quarter} ({self.state})"

    @property
    def progress(self) -> int:
        if not self.partners_total:
            return 100 if self.state == self.State.DONE else 0
        return int(self.partners_done * 100 / self.partners_total)


class CompanyRevenue(models.Model):
    """The whole company's revenue in a quarter, entered by finance: the denominator of the
    channel's share (RULEBOOK §10: 30% by year 3)."""

    quarter = models.CharField(max_length=6, unique=True, help_text="e.g. 2026Q3")
    amount = models.DecimalField(**money_field_kwargs())
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    entered_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-quarter"]
        verbose_name_plural = "company revenue"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="company_revenue_positive"
            )
        ]

    def __str__(self) -> str:
        return f"{self.quarter}: {self.amount}"


# ---------------------------------------------------------------- QBRs and business plans (§10)


class QbrStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    HELD = "held", _("Held")
    CANCELLED = "cancelled", _("Cancelled")


class Qbr(models.Model):
    """A quarterly business review with a partner (RULEBOOK §10).

    ``quarter`` is the quarter the meeting is held in: it reviews the quarter before (the
    last one closed) and plans this one. ``sections`` is the pre-filled agenda, a snapshot
    of the seven sections taken when the QBR is prepared and refreshed on demand until
    it is held; from then on it is the record of what was reviewed. Tiers reviewed more
    often than quarterly still have one QBR a quarter; ``cadence`` (the tier's, when it
    was scheduled) gives the check-ins in between.
    """

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="qbrs")
    quarter = models.CharField(max_length=6)
    cadence = models.CharField(max_length=20, choices=ReviewCadence.choices)
    scheduled_for = models.DateField()
    status = models.CharField(max_length=10, choices=QbrStatus.choices, default=QbrStatus.SCHEDULED)
    held_on = models.DateField(null=True, blank=True)
    held_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    cancel_reason = models.TextField(blank=True)
    shared_with_partner = models.BooleanField(default=False)
    shared_at = models.DateTimeField(null=True, blank=True)
    sections = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    prepared_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(
        blank=True, help_text="Meeting notes. The partner reads them once the QBR is shared."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords(excluded_fields=["sections"])

    class Meta:
        ordering = ["-quarter", "scheduled_for", "pk"]
        verbose_name = "QBR"
        verbose_name_plural = "QBRs"
        constraints = [
            models.UniqueConstraint(fields=["partner", "quarter"], name="one_qbr_per_quarter"),
            models.CheckConstraint(
                condition=Q(status="held", held_on__isnull=False)
                | (~Q(status="held") & Q(held_on__isnull=True)),
                name="qbr_held_has_a_day",
            ),
        ]
        indexes = [models.Index(fields=["quarter", "status"])]

    def __str__(self) -> str:
        return f"QBR {self.quarter} · {self.partner}"

    @property
    def reviewed_quarter(self) -> str:
        return Quarter.parse(self.quarter).previous().label

    @property
    def is_open(self) -> bool:
        return self.status == QbrStatus.SCHEDULED

    def overdue_on(self, day: date) -> bool:
        """Still scheduled on ``day`` though its own day has passed (``queries.qbr_overdue``
        says the same in a query)."""
        return self.is_open and self.scheduled_for < day

    def check_ins(self) -> list[tuple]:
        """The review dates the cadence adds after this QBR, up to the quarter's end."""
        from .qbr_rules import check_ins

        start = self.held_on or self.scheduled_for
        return check_ins(self.cadence, start, Quarter.parse(self.quarter).end)


class QbrActionItem(models.Model):
    """Something agreed at a QBR: who does it (a person with a login, or a name) and by when."""

    qbr = models.ForeignKey(Qbr, on_delete=models.CASCADE, related_name="action_items")
    text = models.CharField(max_length=300)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="qbr_action_items",
        help_text="One of the vendor's staff or of the partner's people.",
    )
    owner_name = models.CharField(
        max_length=120, blank=True, help_text="Or a name, for someone without a login."
    )
    due_on = models.DateField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["qbr", "pk"]
        verbose_name = "action item"
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="qbr_action_has_text"),
            models.CheckConstraint(
                condition=Q(owner__isnull=True) | Q(owner_name=""),
                name="qbr_action_one_kind_of_owner",
            ),
        ]

    def __str__(self) -> str:
        return self.text

    @property
    def owner_display(self) -> str:
        if self.owner_id:
            return str(self.owner)
        return self.owner_name or "—"


class JointBusinessPlan(models.Model):
    """What the vendor and a partner agree to aim for in one fiscal year (RULEBOOK §10)."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="business_plans")
    fiscal_year = models.PositiveSmallIntegerField()
    revenue_goal = models.DecimalField(**money_field_kwargs())
    target_accounts = models.TextField(blank=True, help_text="One account per line.")
    planned_activities = models.TextField(blank=True, help_text="One activity per line.")
    notes = models.TextField(blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-fiscal_year", "pk"]
        verbose_name = "joint business plan"
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "fiscal_year"], name="one_business_plan_per_year"
            ),
            models.CheckConstraint(
                condition=Q(revenue_goal__gte=0), name="business_plan_goal_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"FY{self.fiscal_year} plan · {self.partner}"

    @property
    def target_account_lines(self) -> list[str]:
        return _lines(self.target_accounts)

    @property
    def activity_lines(self) -> list[str]:
        return _lines(self.planned_activities)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]
