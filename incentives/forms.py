"""Portal forms of the money engine (validation of shape only; the services decide)."""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from enablement.models import Campaign
from prm.bounds import column_bounds

from .models import ActivityType, ContributionKind, MdfClaim, MdfRequest


class DisputeForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        min_length=10,
        label=_("Reason"),
        help_text=_("Why the rejection is wrong; the channel chief decides."),
    )


class MdfRequestForm(forms.Form):
    activity_type = forms.ChoiceField(choices=ActivityType.choices, label=_("Activity"))
    title = forms.CharField(max_length=200, label=_("Title"))
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, label=_("Description")
    )
    planned_cost = forms.DecimalField(
        **column_bounds(MdfRequest, "planned_cost", min_value=Decimal("0.01")),
        label=_("Planned cost (USD)"),
    )
    starts_on = forms.DateField(
        label=_("Starts on"), widget=forms.DateInput(attrs={"type": "date"})
    )
    ends_on = forms.DateField(label=_("Ends on"), widget=forms.DateInput(attrs={"type": "date"}))
    expected_leads = forms.IntegerField(min_value=0, max_value=1_000_000, label=_("Expected leads"))
    campaign = forms.ModelChoiceField(
        queryset=Campaign.objects.none(),
        required=False,
        label=_("Co-marketing campaign"),
        empty_label=_("None"),
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

    def clean(self, data, initial=None) -> list:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)] if data else []


class MdfClaimForm(forms.Form):
    actual_cost = forms.DecimalField(
        **column_bounds(MdfClaim, "actual_cost", min_value=Decimal("0.01")),
        label=_("Actual cost (USD)"),
    )
    leads_generated = forms.IntegerField(
        min_value=0, max_value=1_000_000, label=_("Leads generated")
    )
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label=_("Notes")
    )
    files = MultipleFileField(
        label=_("Proof of performance"),
        required=False,
        help_text=_("Invoices, screenshots, attendee lists: PDF, PNG, JPEG, CSV or Office files."),
    )


class ContributionForm(forms.Form):
    kind = forms.ChoiceField(choices=ContributionKind.choices, label=_("Kind"))
    title = forms.CharField(max_length=200, label=_("Title"))
    url = forms.URLField(required=False, label=_("Link"), assume_scheme="https")
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label=_("Description")
    )
