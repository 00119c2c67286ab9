"""Forms of the enablement faces (shape only; the services decide)."""

from django import forms

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
            "domain": "Company web domain",
            "annual_revenue": "Annual revenue (USD)",
            "motivation": "Why partner with us?",
        }
        widgets = {"motivation": forms.Textarea(attrs={"rows": 3})}

    def clean_website(self):
        if self.cleaned_data.get("website"):
            raise forms.ValidationError("Please leave this field empty.")
        return ""


class CampaignForm(forms.Form):
    activity = forms.ModelChoiceField(queryset=CoMarketingActivity.objects.none())
    name = forms.CharField(max_length=200)
    starts_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    expected_leads = forms.IntegerField(
        min_value=0,
        max_value=1_000_000,
        required=False,
        help_text="Empty: the middle of the play's usual range.",
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args, program=None, **kwargs):
        super().__init__(*args, **kwargs)
        if program is not None:
            self.fields["activity"].queryset = CoMarketingActivity.objects.filter(program=program)


class LeadForm(forms.Form):
    company_name = forms.CharField(max_length=200)
    contact_email = forms.EmailField(required=False)
