from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from incentives.models import MdfRequest
from incentives.services.mdf import MDF_SOURCING_STATUSES
from prm.bounds import column_bounds
from prm.money import ISO_4217

from . import rules
from .models import CompensationModel, Deal, DealType, Product


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), help_text="The partner sees this."
    )


class WinForm(forms.Form):
    amount = forms.DecimalField(
        **column_bounds(Deal, "closed_amount", min_value=rules.MIN_DEAL_AMOUNT)
    )
    closed_on = forms.DateField(help_text="YYYY-MM-DD; may be in the past.")
    csat = forms.TypedChoiceField(
        label="CSAT (optional)",
        choices=[("", "No survey")] + [(n, n) for n in range(1, 6)],
        coerce=int,
        empty_value=None,
        required=False,
    )
    surveyed_on = forms.DateField(
        label="CSAT survey date (optional)",
        required=False,
        help_text="When the customer answered; empty: the close date. The CSAT counts then.",
    )


class ReviewNoteForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Optional; the partner sees it.",
    )


class LoseForm(forms.Form):
    closed_on = forms.DateField(required=False)


class ResolutionForm(forms.Form):
    resolution = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))


class RegistrationForm(forms.Form):
    """The partner's register-a-deal form (validation only; the service decides)."""

    customer_name = forms.CharField(max_length=200, label=_("Customer company"))
    customer_domain = forms.CharField(
        max_length=255,
        required=False,
        label=_("Customer web domain"),
        help_text=_("e.g. globex.com — the surest way to match the customer."),
    )
    # The column's range; the program's maximum deal amount is the service's to check.
    amount = forms.DecimalField(
        **column_bounds(Deal, "amount", min_value=rules.MIN_DEAL_AMOUNT),
        label=_("Estimated amount"),
    )
    currency = forms.ChoiceField(
        choices=[(code, code) for code in sorted(ISO_4217)],
        required=False,
        label=_("Currency"),
        help_text=_(
            "The deal's own currency. Sums and your credit are in the program's currency, "
            "at the rate of the day."
        ),
    )
    expected_close = forms.DateField(
        label=_("Expected close"), widget=forms.DateInput(attrs={"type": "date"})
    )
    deal_type = forms.ChoiceField(choices=DealType.choices, label=_("Deal type"))
    compensation_model = forms.ChoiceField(
        choices=CompensationModel.choices, label=_("Compensation model")
    )
    products = forms.ModelMultipleChoiceField(
        queryset=Product.objects.filter(is_active=True),
        required=False,
        label=_("Products"),
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
    )
    contract_years = forms.IntegerField(
        min_value=1, max_value=10, initial=1, label=_("Contract years")
    )
    mdf_request = forms.ModelChoiceField(
        queryset=MdfRequest.objects.none(),
        required=False,
        label=_("Sourced by an MDF activity"),
        empty_label=_("No"),
    )
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, label=_("Notes")
    )

    def __init__(self, *args, partner=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["expected_close"].widget.attrs["min"] = timezone.localdate().isoformat()
        self.fields["currency"].initial = partner.program.currency if partner else "USD"
        if partner is not None:
            self.fields["mdf_request"].queryset = MdfRequest.objects.filter(
                partner=partner, status__in=MDF_SOURCING_STATUSES
            ).order_by("-starts_on")
        if not self.fields["mdf_request"].queryset.exists():
            del self.fields["mdf_request"]


class ExtendForm(forms.Form):
    justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        min_length=10,
        label=_("Justification"),
        help_text=_("Why the customer needs more time; your channel manager sees this."),
    )
