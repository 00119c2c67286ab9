from django import forms
from django.utils.translation import gettext_lazy as _

from .models import PartnerRole


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"))
    first_name = forms.CharField(max_length=150, required=False, label=_("First name"))
    last_name = forms.CharField(max_length=150, required=False, label=_("Last name"))
    role = forms.ChoiceField(choices=PartnerRole.choices, initial=PartnerRole.REP, label=_("Role"))


class ManagerNoteForm(forms.Form):
    """A note on the partner 360 page (checked again by ``manager_note_add``)."""

    text = forms.CharField(
        label=_("Note"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
        error_messages={"required": _("Write the note before adding it.")},
    )
