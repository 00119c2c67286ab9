"""Portal forms of the money engine (validation of shape only; the services decide)."""

from decimal import Decimal

from django import forms

from enablement.models import Campaign

from .models import ActivityType, ContributionKind


class DisputeForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        min_length=10,
        help_text="Why the rejection is wrong; the channel chief decides.",
    )


class MdfRequestForm(forms.Form):
    activity_type = forms.ChoiceField(choices=ActivityType.choices, label="Activity")
    title = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    planned_cost = forms.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal("0.01"), label="Planned cost (USD)"
    )
    starts_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    expected_leads = forms.IntegerField(min_value=0, max_value=1_000_000)
    campaign = forms.ModelChoiceField(
        queryset=Campaign.objects.none(),
        required=False,
        label="Co-marketing campaign",
        empty_label="None",
    )

    def __init__(self, *args, partner=None, **kwargs):
        super().__init__(*args, **kwargs)
        if partner is not None:
            self.fields["campaign"].queryset = Campaign.objects.filter(partner=partner).exclude(
                status="cancelled"
            )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented pattern for multiple uploads)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)] if data else []


class MdfClaimForm(forms.Form):
    actual_cost = forms.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal("0.01"), label="Actual cost (USD)"
    )
    leads_generated = forms.IntegerField(min_value=0, max_value=1_000_000)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    files = MultipleFileField(
        label="Proof of performance",
        required=False,
        help_text="Invoices, screenshots, attendee lists: PDF, PNG, JPEG, CSV or Office files.",
    )


class ContributionForm(forms.Form):
    kind = forms.ChoiceField(choices=ContributionKind.choices)
    title = forms.CharField(max_length=200)
    url = forms.URLField(required=False, label="Link", assume_scheme="https")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
