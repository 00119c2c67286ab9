"""Certifications (this part); curriculum, onboarding and content come later."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from partners.models import Partner


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
