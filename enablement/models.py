"""The relationship side of the program (RULEBOOK §10): recruitment, the onboarding
curriculum, certifications and engagement, the content library and co-marketing."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from partners.models import Partner, Program
from prm.money import money_field_kwargs


class CertificationType(models.Model):
    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    validity_months = models.PositiveSmallIntegerField(
        default=24, help_text="Months a certification of this type stays current."
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Certification(models.Model):
    """A person's certification. Current on day d when ``issued_on <= d < expires_on``."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="certifications"
    )
    # The partner the person held it for; denormalised so per-partner counts are one index scan.
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="certifications")
    certification_type = models.ForeignKey(
        CertificationType, on_delete=models.PROTECT, related_name="certifications"
    )
    issued_on = models.DateField()
    expires_on = models.DateField()
    awarded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reminded_at = models.DateTimeField(
        null=True, blank=True, help_text="When the holder was reminded of the expiry."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-issued_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_on__gt=F("issued_on")), name="certification_expires_after_issue"
            ),
            models.UniqueConstraint(
                fields=["user", "certification_type", "issued_on"],
                name="certification_unique_award",
            ),
        ]
        indexes = [models.Index(fields=["partner", "expires_on", "issued_on"])]

    def __str__(self) -> str:
        return f"{self.user} · {self.certification_type} ({self.issued_on}–{self.expires_on})"


class LoginDay(models.Model):
    """A day on which a partner person signed in to the portal (API tokens do not count)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="login_days")
    day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "day"], name="one_login_day_per_user_day")
        ]
        indexes = [models.Index(fields=["partner", "day"])]

    def __str__(self) -> str:
        return f"{self.user} on {self.day}"


class LoginMonth(models.Model):
    """A partner's portal-login days of one month, once its day rows are past
    ``LOGIN_DAY_RETENTION_DAYS`` (``enablement.services.login_days_roll_up``): the
    scorecard of a quarter that old reads these instead of the days."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="login_months")
    month = models.DateField(help_text="The month's first day.")
    login_days = models.PositiveSmallIntegerField(
        help_text="Distinct days any of the partner's people signed in to the portal."
    )
    people = models.PositiveIntegerField(help_text="Distinct people who signed in.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "month"], name="one_login_month_per_partner"
            ),
            models.CheckConstraint(
                condition=models.Q(month__day=1), name="login_month_starts_on_the_first"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner} in {self.month:%Y-%m}: {self.login_days} login days"


class TrainingCompletion(models.Model):
    """A course a partner person completed (an engagement input of the scorecard)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="training_completions"
    )
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="trainings")
    course = models.CharField(max_length=200)
    completed_on = models.DateField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-completed_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "course", "completed_on"], name="one_completion_per_course_day"
            )
        ]
        indexes = [models.Index(fields=["partner", "completed_on"])]

    def __str__(self) -> str:
        return f"{self.user}: {self.course} ({self.completed_on})"


class EventAttendance(models.Model):
    """A partner person attended a vendor event (an engagement input of the scorecard)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="event_attendances"
    )
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="events")
    event = models.CharField(max_length=200)
    attended_on = models.DateField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-attended_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "event", "attended_on"], name="one_attendance_per_event_day"
            )
        ]
        indexes = [models.Index(fields=["partner", "attended_on"])]

    def __str__(self) -> str:
        return f"{self.user}: {self.event} ({self.attended_on})"


# ---------------------------------------------------------------- recruitment


class PartnerType(models.TextChoices):
    RESELLER = "reseller", _("Reseller / VAR")
    REFERRAL = "referral", _("Referral partner")
    CO_SELL = "co_sell", _("Co-sell partner")
    OEM = "oem", _("OEM")


class ApplicationStatus(models.TextChoices):
    APPLIED = "applied", _("Applied")
    QUALIFIED = "qualified", _("Qualified")
    AGREEMENT_SIGNED = "agreement_signed", _("Agreement signed")
    ONBOARDING = "onboarding", _("Onboarding")
    ACTIVE = "active", _("Active")
    DECLINED = "declined", _("Declined")


class PartnerApplication(models.Model):
    """A company asking to join the program through the public form."""

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="applications")
    company_name = models.CharField(max_length=200)
    domain = models.CharField(max_length=255)
    country = models.CharField(max_length=60)
    partner_type = models.CharField(max_length=12, choices=PartnerType.choices)
    employees = models.PositiveIntegerField()
    annual_revenue = models.DecimalField(**money_field_kwargs())
    customers_in_segment = models.PositiveIntegerField(
        help_text="Customers in our target segment today."
    )
    technical_staff = models.PositiveIntegerField(help_text="Sales engineers or consultants.")
    contact_name = models.CharField(max_length=120)
    contact_email = models.EmailField()
    contact_phone = models.CharField(max_length=40, blank=True)
    motivation = models.TextField(blank=True)
    fit_score = models.DecimalField(max_digits=5, decimal_places=1, default=0)
    fit_details = models.JSONField(default=list, blank=True)
    status = FSMField(
        max_length=20,
        choices=ApplicationStatus.choices,
        default=ApplicationStatus.APPLIED,
        protected=False,
    )
    submitted_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    agreement_signed_on = models.DateField(null=True, blank=True)
    decline_reason = models.TextField(blank=True)
    partner = models.OneToOneField(
        Partner, on_delete=models.SET_NULL, null=True, blank=True, related_name="application"
    )
    channel_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["-submitted_at"]
        indexes = [models.Index(fields=["status", "submitted_at"])]

    def __str__(self) -> str:
        return self.company_name

    @transition(field=status, source=ApplicationStatus.APPLIED, target=ApplicationStatus.QUALIFIED)
    def qualify(self, *, by, at) -> None:
        self.decided_by, self.decided_at = by, at

    @transition(
        field=status,
        source=ApplicationStatus.QUALIFIED,
        target=ApplicationStatus.AGREEMENT_SIGNED,
    )
    def sign(self, *, signed_on) -> None:
        self.agreement_signed_on = signed_on

    @transition(
        field=status,
        source=ApplicationStatus.AGREEMENT_SIGNED,
        target=ApplicationStatus.ONBOARDING,
    )
    def approve(self, *, by, at, partner) -> None:
        self.decided_by, self.decided_at, self.partner = by, at, partner

    @transition(field=status, source=ApplicationStatus.ONBOARDING, target=ApplicationStatus.ACTIVE)
    def activate(self) -> None:
        pass

    @transition(
        field=status,
        source=[
            ApplicationStatus.APPLIED,
            ApplicationStatus.QUALIFIED,
            ApplicationStatus.AGREEMENT_SIGNED,
        ],
        target=ApplicationStatus.DECLINED,
    )
    def decline(self, *, by, at, reason) -> None:
        self.decided_by, self.decided_at, self.decline_reason = by, at, reason


class ProfileField(models.TextChoices):
    EMPLOYEES = "employees", _("Employees")
    ANNUAL_REVENUE = "annual_revenue", _("Annual revenue")
    CUSTOMERS_IN_SEGMENT = "customers_in_segment", _("Customers in the target segment")
    TECHNICAL_STAFF = "technical_staff", _("Technical staff")
    PARTNER_TYPE = "partner_type", _("Partner type")
    COUNTRY = "country", _("Country")


class ProfileCriterion(models.Model):
    """One line of the program's ideal partner profile; the fit score is the share of
    points an application earns."""

    class Test(models.TextChoices):
        AT_LEAST = "gte", _("at least")
        ONE_OF = "in", _("one of (comma-separated)")

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="icp_criteria")
    field = models.CharField(max_length=30, choices=ProfileField.choices)
    test = models.CharField(max_length=3, choices=Test.choices, default=Test.AT_LEAST)
    value = models.CharField(max_length=200)
    points = models.PositiveSmallIntegerField(default=10)

    class Meta:
        ordering = ["program", "-points", "field"]
        verbose_name = "ideal-partner criterion"
        verbose_name_plural = "ideal-partner profile"

    def __str__(self) -> str:
        return f"{self.get_field_display()} {self.get_test_display()} {self.value}"


class RecruitmentTarget(models.Model):
    """New partners to sign in a period (RULEBOOK §10: 10–20 in the first 6 months)."""

    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="recruitment_targets"
    )
    name = models.CharField(max_length=120)
    starts_on = models.DateField()
    ends_on = models.DateField()
    target_low = models.PositiveIntegerField(default=10)
    target_high = models.PositiveIntegerField(default=20)

    class Meta:
        ordering = ["-starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("starts_on")), name="recruitment_target_dates"
            ),
            models.CheckConstraint(
                condition=Q(target_high__gte=F("target_low")), name="recruitment_target_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name


# ---------------------------------------------------------------- onboarding (§10)


class Phase(models.TextChoices):
    WEEKS_1_2 = "weeks_1_2", _("Weeks 1–2: foundations")
    WEEKS_3_4 = "weeks_3_4", _("Weeks 3–4: sales readiness")
    MONTHS_2_3 = "months_2_3", _("Months 2–3: independence")


class AutoEvent(models.TextChoices):
    FIRST_REGISTRATION = "first_registration", _("First deal registration")
    FIRST_CAMPAIGN = "first_campaign", _("First co-marketing campaign")
    FIRST_QBR = "first_qbr", _("First QBR held")


class Milestone(models.Model):
    """A step of the program's onboarding curriculum, due some days after the start.

    It completes itself when data proves it: a certification of ``certification_type``,
    a training completion named like it, or the ``auto_event`` (first registration,
    first campaign, first QBR)."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="milestones")
    slug = models.SlugField(max_length=60)
    name = models.CharField(max_length=160)
    phase = models.CharField(max_length=12, choices=Phase.choices)
    due_days = models.PositiveSmallIntegerField(help_text="Days after the partner's start.")
    hours = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    description = models.TextField(blank=True)
    certification_type = models.ForeignKey(
        CertificationType, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    auto_event = models.CharField(max_length=20, choices=AutoEvent.choices, blank=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["program", "due_days", "order"]
        constraints = [
            models.UniqueConstraint(fields=["program", "slug"], name="milestone_slug_in_program")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def proven_by_data(self) -> bool:
        return bool(self.auto_event or self.certification_type_id)


class OnboardingTask(models.Model):
    """One milestone of one partner's onboarding plan."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="onboarding")
    milestone = models.ForeignKey(Milestone, on_delete=models.CASCADE, related_name="tasks")
    due_on = models.DateField()
    completed_on = models.DateField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    completed_automatically = models.BooleanField(default=False)
    note = models.CharField(max_length=300, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["partner", "due_on", "milestone__order"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "milestone"], name="one_task_per_partner_milestone"
            )
        ]
        indexes = [models.Index(fields=["completed_on", "due_on"])]

    def __str__(self) -> str:
        return f"{self.partner}: {self.milestone}"


# ---------------------------------------------------------------- content library


class ContentKind(models.TextChoices):
    COLLATERAL = "collateral", _("Sales collateral")
    PLAYBOOK = "playbook", _("Playbook")
    PRESENTATION = "presentation", _("Presentation")
    VIDEO = "video", _("Video")
    TEMPLATE = "template", _("Co-marketing template")


def content_path(instance: "ContentItem", filename: str) -> str:
    return f"content/{instance.program_id}/{filename}"


class ContentItem(models.Model):
    """Collateral, playbooks and templates, with a file or a link, shown from a tier up."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="content")
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=ContentKind.choices)
    description = models.TextField(blank=True)
    file = models.FileField(upload_to=content_path, blank=True, max_length=300)
    url = models.URLField(blank=True)
    min_tier_rank = models.PositiveSmallIntegerField(
        default=0, help_text="Lowest tier rank that may open it (0: every partner)."
    )
    published = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["min_tier_rank", "title"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(file="") | ~Q(url=""), name="content_has_file_or_link"
            )
        ]

    def __str__(self) -> str:
        return self.title


class ContentDownload(models.Model):
    item = models.ForeignKey(ContentItem, on_delete=models.CASCADE, related_name="downloads")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="downloads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["item", "at"]), models.Index(fields=["partner", "at"])]

    def __str__(self) -> str:
        return f"{self.item} by {self.user}"


# ---------------------------------------------------------------- co-marketing (§10)


class CoMarketingActivity(models.Model):
    """A play of the co-marketing playbook with its default cost share and expected leads."""

    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="co_marketing_activities"
    )
    slug = models.SlugField(max_length=40)
    name = models.CharField(max_length=120)
    cost_share = models.CharField(max_length=120, help_text="e.g. 50/50, MDF-funded, free.")
    vendor_share = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="The vendor's share of the cost, if a fixed split.",
    )
    leads_low = models.PositiveIntegerField(null=True, blank=True)
    leads_high = models.PositiveIntegerField(null=True, blank=True)
    leads_per = models.CharField(
        max_length=20, blank=True, help_text="campaign, piece or month; empty: evergreen."
    )
    partner_effort = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["program", "name"]
        verbose_name_plural = "co-marketing activities"
        constraints = [
            models.UniqueConstraint(fields=["program", "slug"], name="activity_slug_in_program")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def expected_leads_text(self) -> str:
        if self.leads_low is None:
            return "evergreen"
        per = f" a {self.leads_per}" if self.leads_per and self.leads_per != "campaign" else ""
        return f"{self.leads_low}–{self.leads_high}{per}"


class CampaignStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class Campaign(models.Model):
    """A partner's co-marketing campaign; MDF requests may fund it, leads are recorded
    against it."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="campaigns")
    activity = models.ForeignKey(
        CoMarketingActivity, on_delete=models.PROTECT, related_name="campaigns"
    )
    name = models.CharField(max_length=200)
    starts_on = models.DateField()
    ends_on = models.DateField()
    expected_leads = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.PLANNED
    )
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-starts_on", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("starts_on")), name="campaign_dates_ordered"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def stage(self, today=None) -> str:
        """Planned, running or done by its dates (or cancelled / done when set so)."""
        if self.status in (CampaignStatus.CANCELLED, CampaignStatus.DONE):
            return self.get_status_display()
        today = today or timezone.localdate()
        if today < self.starts_on:
            return CampaignStatus.PLANNED.label
        if today <= self.ends_on:
            return CampaignStatus.RUNNING.label
        return CampaignStatus.DONE.label


class CampaignLead(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="leads")
    company_name = models.CharField(max_length=200)
    contact_email = models.EmailField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-recorded_at"]

    def __str__(self) -> str:
        return self.company_name
