from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .models import (
    DeclineReason,
    Language,
    LeadCloseReason,
    NoticeDelivery,
    NoticeKind,
    PartnerRole,
    Region,
    Specialty,
)
from .services.leads import NOTE_MAX, close_problems, decline_problems


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"))
    first_name = forms.CharField(max_length=150, required=False, label=_("First name"))
    last_name = forms.CharField(max_length=150, required=False, label=_("Last name"))
    role = forms.ChoiceField(choices=PartnerRole.choices, initial=PartnerRole.REP, label=_("Role"))


class DirectoryProfileForm(forms.Form):
    """The partner admin's directory profile (shape only; the service decides)."""

    listed = forms.BooleanField(required=False, label=_("Show us in the partner directory"))
    description = forms.CharField(
        required=False,
        max_length=2000,
        label=_("Description"),
        help_text=_("What you do and for whom; customers read this first."),
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    specialties = forms.MultipleChoiceField(
        required=False,
        choices=Specialty.choices,
        label=_("Specialties"),
        widget=forms.CheckboxSelectMultiple,
    )
    regions = forms.MultipleChoiceField(
        required=False,
        choices=Region.choices,
        label=_("Regions served"),
        widget=forms.CheckboxSelectMultiple,
    )
    languages = forms.MultipleChoiceField(
        required=False,
        choices=Language.choices,
        label=_("Languages"),
        widget=forms.CheckboxSelectMultiple,
    )
    logo = forms.FileField(
        required=False,
        label=_("Logo"),
        help_text=_("PNG or JPEG, at most 1 MB."),
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg"}),
    )
    remove_logo = forms.BooleanField(required=False, label=_("Remove the logo"))


class DirectoryFilterForm(forms.Form):
    """The public directory's filters; an unknown value is a 400 with the field named."""

    q = forms.CharField(required=False, max_length=100, label=_("Name"))
    region = forms.ChoiceField(required=False, label=_("Region"))
    specialty = forms.ChoiceField(required=False, label=_("Specialty"))
    language = forms.ChoiceField(required=False, label=_("Language"))
    tier = forms.ChoiceField(required=False, label=_("Tier"))

    def __init__(self, *args, tiers: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        anything = [("", _("Any"))]
        self.fields["region"].choices = anything + list(Region.choices)
        self.fields["specialty"].choices = anything + list(Specialty.choices)
        self.fields["language"].choices = anything + list(Language.choices)
        self.fields["tier"].choices = anything + tiers


class DirectoryInquiryForm(forms.Form):
    """ "Contact this partner". ``website`` is a trap field for robots: people never see it,
    so anything in it refuses the submission (RULEBOOK §11)."""

    contact_name = forms.CharField(max_length=150, label=_("Your name"))
    company_name = forms.CharField(max_length=200, label=_("Company"))
    contact_email = forms.EmailField(label=_("Work e-mail"))
    domain = forms.CharField(
        max_length=255,
        required=False,
        label=_("Company web domain"),
        help_text=_("For example example.com."),
    )
    message = forms.CharField(
        max_length=2000, label=_("Message"), widget=forms.Textarea(attrs={"rows": 4})
    )
    website = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_website(self) -> str:
        if self.cleaned_data.get("website"):
            raise forms.ValidationError(_("Please leave this field empty."))
        return ""


class ManagerNoteForm(forms.Form):
    """A note on the partner 360 page (checked again by ``manager_note_add``)."""

    text = forms.CharField(
        label=_("Note"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
        error_messages={"required": _("Write the note before adding it.")},
    )


class _LeadReasonForm(forms.Form):
    """A reason from a list and, for “Other”, the partner's words: declining an offered
    lead, or closing an accepted one. Each subclass gives its ``reason`` field and the
    service's ``problems`` check."""

    note = forms.CharField(
        label=_("In your words"),
        required=False,
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Needed when the reason is “Other”; your channel manager reads it."),
    )
    problems = None

    def clean(self) -> dict:
        data = super().clean()
        if "reason" in data and "note" in data:
            for field, problem in type(self).problems(data["reason"], data["note"]).items():
                self.add_error(field, problem)
        return data


class LeadDeclineForm(_LeadReasonForm):
    reason = forms.ChoiceField(
        choices=[("", "—"), *DeclineReason.choices], label=_("Why do you decline it?")
    )
    problems = staticmethod(decline_problems)
    field_order = ["reason", "note"]


class LeadCloseForm(_LeadReasonForm):
    reason = forms.ChoiceField(
        choices=[("", "—"), *LeadCloseReason.choices], label=_("Why do you close it?")
    )
    problems = staticmethod(close_problems)
    field_order = ["reason", "note"]


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
