from django import forms

from .models import PartnerRole


class InviteForm(forms.Form):
    email = forms.EmailField(label="E-mail")
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    role = forms.ChoiceField(choices=PartnerRole.choices, initial=PartnerRole.REP)
