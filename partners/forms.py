from django import forms
from django.utils.translation import gettext_lazy as _

from .models import PartnerRole


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"))
    first_name = forms.CharField(max_length=150, required=False, label=_("First name"))
    last_name = forms.CharField(max_length=150, required=False, label=_("Last name"))
    role = forms.ChoiceField(choices=PartnerRole.choices, initial=PartnerRole.REP, label=_("Role"))
