"""Deal registrations and products.

This module holds the registration record; the registration, approval and win
services (RULEBOOK §4–§5) build on it.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from partners.models import Account, Partner
from prm.money import money_field_kwargs


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
    PENDING = "pending", "Pending approval"
    APPROVED = "approved", "Approved"
    WON = "won", "Won"
    LOST = "lost", "Lost"
    EXPIRED = "expired", "Expired"
    REJECTED = "rejected", "Rejected"


class DealType(models.TextChoices):
    NEW_LOGO = "new_logo", "New logo"
    UPSELL = "upsell", "Upsell"
    CROSS_SELL = "cross_sell", "Cross-sell"
    RENEWAL = "renewal", "Renewal"


class CompensationModel(models.TextChoices):
    RESELLER = "reseller", "Reseller"
    REFERRAL = "referral", "Referral"
    CO_SELL = "co_sell", "Co-sell"
    OEM = "oem", "OEM"


class Deal(models.Model):
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="deals")
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, null=True, blank=True, related_name="deals"
    )
    customer_name = models.CharField(max_length=200)
    customer_domain = models.CharField(max_length=255, blank=True)
    amount = models.DecimalField(**money_field_kwargs())
    currency = models.CharField(max_length=3, default="USD")
    expected_close = models.DateField()
    products = models.ManyToManyField(Product, blank=True, related_name="deals")
    deal_type = models.CharField(max_length=20, choices=DealType.choices)
    compensation_model = models.CharField(max_length=20, choices=CompensationModel.choices)
    contract_years = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    notes = models.TextField(blank=True)

    status = models.CharField(
        max_length=20, choices=DealStatus.choices, default=DealStatus.PENDING, db_index=True
    )
    reason = models.CharField(max_length=60, blank=True)
    submitted_at = models.DateTimeField()
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    expires_on = models.DateField(null=True, blank=True)
    extended = models.BooleanField(default=False)
    extension_justification = models.TextField(blank=True)
    direct_conflict = models.BooleanField(default=False)

    closed_on = models.DateField(null=True, blank=True)
    closed_amount = models.DecimalField(**money_field_kwargs(), null=True, blank=True)
    margin_rate = models.DecimalField(max_digits=6, decimal_places=4, null=True, blank=True)
    partner_credit = models.DecimalField(**money_field_kwargs(), null=True, blank=True)
    csat = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    csat_recorded_at = models.DateTimeField(null=True, blank=True)

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
                condition=~Q(status="won")
                | Q(closed_on__isnull=False, partner_credit__isnull=False),
                name="won_deal_has_close_and_credit",
            ),
        ]
        indexes = [
            models.Index(fields=["partner", "status", "closed_on"]),
            models.Index(fields=["partner", "submitted_at"]),
            models.Index(fields=["account", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.customer_name} ({self.partner})"
