from django import forms
from django.utils.translation import gettext_lazy as _

from .models import DeclineReason, PartnerRole
from .services.leads import DECLINE_NOTE_MAX, decline_problems


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"))
    first_name = forms.CharField(max_length=150, required=False, label=_("First name"))
    last_name = forms.CharField(max_length=150, required=False, label=_("Last name"))
    role = forms.ChoiceField(choices=PartnerRole.choices, initial=PartnerRole.REP, label=_("Role"))


class LeadDeclineForm(forms.Form):
    reason = forms.ChoiceField(
        choices=[("", "—"), *DeclineReason.choices], label=_("Why do you decline it?")
    )
    note = forms.CharField(
        label=_("In your words"),
        required=False,
        max_length=DECLINE_NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Needed when the reason is “Other”; your channel manager reads it."),
    )

    def clean(self) -> dict:
        data = super().clean()
        if "reason" in data and "note" in data:
            for field, problem in decline_problems(data["reason"], data["note"]).items():
                self.add_error(field, problem)
        return data
