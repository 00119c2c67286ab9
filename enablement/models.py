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
