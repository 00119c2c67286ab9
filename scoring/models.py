"""The quarter close: its runs and the scorecards it writes (RULEBOOK §2, §3)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from partners.models import Partner, Tier


class Band(models.TextChoices):
    PROBATION = "probation", "Probation (< 40)"
    MAINTAIN = "maintain", "Maintain (40–59.99)"
    GROW = "grow", "Grow (60–79.99)"
    INVEST = "invest", "Invest (≥ 80)"


class Decision(models.TextChoices):
    STAY = "stay", "Stay"
    ADVANCE = "advance", "Advance"
    FAST_TRACK = "fast_track", "Fast-track"
    DEMOTE = "demote", "Demote"
    EXIT = "exit", "Exit"


POINTS = {"max_digits": 5, "decimal_places": 2}


class Scorecard(models.Model):
    """One partner's quarter: inputs, the five dimensions, total, band and tier decision.

    Keyed by (partner, quarter): a rerun of the close overwrites it with the same result.
    """

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="scorecards")
    quarter = models.CharField(max_length=6)
    tier_before = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    qualified_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    meets_lowest = models.BooleanField(default=True)
    decision = models.CharField(max_length=20, choices=Decision.choices, default=Decision.STAY)
    tier_after = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
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
        indexes = [models.Index(fields=["quarter", "band"])]

    def __str__(self) -> str:
        return f"{self.partner} {self.quarter}: {self.total}"


class QuarterClose(models.Model):
    """One quarter's close: its state, counts and timings (a rerun updates the same row)."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    quarter = models.CharField(max_length=6, unique=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField(null=True, blank=True)
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
    amount = models.DecimalField(max_digits=16, decimal_places=2)
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
