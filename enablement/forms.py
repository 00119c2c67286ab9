"""Forms of the enablement faces (shape only; the services decide)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import CoMarketingActivity, PartnerApplication


class ApplicationForm(forms.ModelForm):
    """The public "become a partner" form. ``website`` is a trap field for robots: people
    never see it, so anything in it refuses the submission."""

    website = forms.CharField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = PartnerApplication
        fields = [
            "company_name",
            "domain",
            "country",
            "partner_type",
            "employees",
            "annual_revenue",
            "customers_in_segment",
            "technical_staff",
            "contact_name",
            "contact_email",
            "contact_phone",
            "motivation",
        ]
        labels = {
            "company_name": _("Company name"),
            "domain": _("Company web domain"),
            "country": _("Country"),
            "partner_type": _("Partner type"),
            "employees": _("Employees"),
            "annual_revenue": _("Annual revenue (USD)"),
            "customers_in_segment": _("Customers in segment"),
            "technical_staff": _("Technical staff"),
            "contact_name": _("Contact name"),
            "contact_email": _("Contact email"),
            "contact_phone": _("Contact phone"),
            "motivation": _("Why partner with us?"),
        }
        help_texts = {
            "customers_in_segment": _("Customers in our target segment today."),
            "technical_staff": _("Sales engineers or consultants."),
        }
        widgets = {"motivation": forms.Textarea(attrs={"rows": 3})}

    def clean_website(self) -> str:
        if self.cleaned_data.get("website"):
            raise forms.ValidationError(_("Please leave this field empty."))
        return ""


class CampaignForm(forms.Form):
    activity = forms.ModelChoiceField(
        queryset=CoMarketingActivity.objects.none(), label=_("Activity")
    )
    name = forms.CharField(max_length=200, label=_("Name"))
    starts_on = forms.DateField(
        label=_("Starts on"), widget=forms.DateInput(attrs={"type": "date"})
    )
    ends_on = forms.DateField(label=_("Ends on"), widget=forms.DateInput(attrs={"type": "date"}))
    expected_leads = forms.IntegerField(
        min_value=0,
        max_value=1_000_000,
        required=False,
        label=_("Expected leads"),
        help_text=_("Empty: the middle of the play's usual range."),
    )
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label=_("Notes")
    )

    def __init__(self, *args, program=None, **kwargs):
        super().__init__(*args, **kwargs)
        if program is not None:
            self.fields["activity"].queryset = CoMarketingActivity.objects.filter(program=program)


class LeadForm(forms.Form):
    company_name = forms.CharField(max_length=200, label=_("Company name"))
    contact_email = forms.EmailField(required=False, label=_("Contact email"))
