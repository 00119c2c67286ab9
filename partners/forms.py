from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .models import NoticeDelivery, NoticeKind, PartnerRole


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"))
    first_name = forms.CharField(max_length=150, required=False, label=_("First name"))
    last_name = forms.CharField(max_length=150, required=False, label=_("Last name"))
    role = forms.ChoiceField(choices=PartnerRole.choices, initial=PartnerRole.REP, label=_("Role"))


class NoticeFilterForm(forms.Form):
    """The notification centre's filters, from the query string."""

    kind = forms.ChoiceField(
        choices=[("", _("All kinds"))] + NoticeKind.choices, required=False, label=_("Kind")
    )
    state = forms.ChoiceField(
        choices=[("", _("Read and unread")), ("unread", _("Unread")), ("read", _("Read"))],
        required=False,
        label=_("State"),
    )
    page = forms.IntegerField(min_value=1, max_value=1_000_000, required=False, label=_("Page"))

    @property
    def unread(self) -> bool | None:
        state = self.cleaned_data.get("state")
        return {"unread": True, "read": False}.get(state)


class NoticePreferencesForm(forms.Form):
    """One choice of e-mail per kind of notice, and the language of the mail."""

    language = forms.ChoiceField(choices=settings.LANGUAGES, label=_("Language of your e-mails"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for kind, label in NoticeKind.choices:
            self.fields[f"kind_{kind}"] = forms.ChoiceField(
                choices=NoticeDelivery.choices, label=label, widget=forms.RadioSelect
            )

    def kind_fields(self) -> list:
        return [self[f"kind_{kind}"] for kind in NoticeKind.values]

    @property
    def deliveries(self) -> dict[str, str]:
        return {kind: self.cleaned_data[f"kind_{kind}"] for kind in NoticeKind.values}
