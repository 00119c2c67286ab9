from django import forms
from django.utils.translation import gettext_lazy as _

from .models import EventKind


class WebhookForm(forms.Form):
    url = forms.URLField(
        label=_("Address (URL)"),
        max_length=500,
        assume_scheme="https",
        help_text=_("Your receiver's https:// address; it is sent a POST for each event."),
    )
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    event_kinds = forms.MultipleChoiceField(
        label=_("Event kinds"),
        choices=EventKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every kind, including kinds added later."),
    )


class WebhookEditForm(WebhookForm):
    is_active = forms.BooleanField(
        label=_("Active"),
        required=False,
        help_text=_("Switched off, it receives nothing until it is switched on again."),
    )
