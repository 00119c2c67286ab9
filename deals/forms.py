from django import forms

from incentives.models import MdfRequest
from incentives.services import MDF_SOURCING_STATUSES

from .models import CompensationModel, DealType, Product


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), help_text="The partner sees this."
    )


class WinForm(forms.Form):
    amount = forms.DecimalField(max_digits=14, decimal_places=2, min_value=0.01)
    closed_on = forms.DateField(help_text="YYYY-MM-DD; may be in the past.")
    csat = forms.TypedChoiceField(
        label="CSAT (optional)",
        choices=[("", "No survey")] + [(n, n) for n in range(1, 6)],
        coerce=int,
        empty_value=None,
        required=False,
    )


class LoseForm(forms.Form):
    closed_on = forms.DateField(required=False)


class ResolutionForm(forms.Form):
    resolution = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))


class RegistrationForm(forms.Form):
    """The partner's register-a-deal form (validation only; the service decides)."""

    customer_name = forms.CharField(max_length=200, label="Customer company")
    customer_domain = forms.CharField(
        max_length=255,
        required=False,
        label="Customer web domain",
        help_text="e.g. globex.com — the surest way to match the customer.",
    )
    amount = forms.DecimalField(
        max_digits=14, decimal_places=2, min_value=0.01, label="Estimated amount (USD)"
    )
    expected_close = forms.DateField(
        label="Expected close", widget=forms.DateInput(attrs={"type": "date"})
    )
    deal_type = forms.ChoiceField(choices=DealType.choices)
    compensation_model = forms.ChoiceField(choices=CompensationModel.choices)
    products = forms.ModelMultipleChoiceField(
        queryset=Product.objects.filter(is_active=True),
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
    )
    contract_years = forms.IntegerField(min_value=1, max_value=10, initial=1)
    mdf_request = forms.ModelChoiceField(
        queryset=MdfRequest.objects.none(),
        required=False,
        label="Sourced by an MDF activity",
        empty_label="No",
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args, partner=None, **kwargs):
        super().__init__(*args, **kwargs)
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
        help_text="Why the customer needs more time; your channel manager sees this.",
    )
