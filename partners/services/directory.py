"""The public partner directory (RULEBOOK §11): a partner admin's directory profile, and
"Contact this partner", which turns a customer's inquiry into a lead passed to that
partner directly (the customer chose it)."""

from collections.abc import Collection
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from prm.uploads import KINDS as UPLOAD_KINDS
from prm.uploads import upload_from, upload_problem

from ..models import (
    DirectoryInquiry,
    DirectoryProfile,
    Language,
    LeadSource,
    NoticeKind,
    Partner,
    PartnerStatus,
    Region,
    Specialty,
    User,
    codes_stored,
)
from ..permissions import is_own_partner_admin
from . import lead_create, notice_send

# The playbook's expectation of directory leads per partner and month (RULEBOOK §11).
DIRECTORY_LEADS_PER_MONTH = (5, 15)
# Logos are shown in pages of the site: pictures only (no SVG, which can carry scripts).
LOGO_KINDS = {name: UPLOAD_KINDS[name] for name in ("png", "jpg", "jpeg")}
LOGO_MAX_BYTES = 1024 * 1024
DESCRIPTION_MAX = 2000
MESSAGE_MAX = 2000


@dataclass(frozen=True)
class LeadBand:
    """A month's directory leads of one partner against the playbook's range."""

    count: int
    low: int
    high: int

    @property
    def state(self) -> str:
        if self.count < self.low:
            return "below"
        if self.count > self.high:
            return "above"
        return "within"


def directory_lead_band(count: int) -> LeadBand:
    low, high = DIRECTORY_LEADS_PER_MONTH
    return LeadBand(count=count, low=low, high=high)


def _codes(values: Collection[str], allowed: list[str], field: str) -> str:
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ValidationError({field: gettext("Not a choice: %(codes)s.") % {"codes": unknown}})
    # In the order of the choices, each once.
    return codes_stored([code for code in allowed if code in set(values)])


def directory_logo_check(file) -> str:
    """Refuse a logo that is not a PNG or JPEG picture of at most 1 MB (``prm.uploads``);
    give an accepted one its safe name and answer its content type."""
    upload = upload_from(file, default_name="logo", kinds=LOGO_KINDS)
    problem = upload_problem(upload, kinds=LOGO_KINDS, max_bytes=LOGO_MAX_BYTES)
    if problem:
        raise ValidationError({"logo": problem})
    file.name = upload.name
    return upload.kind


@transaction.atomic
def directory_profile_update(
    *,
    partner: Partner,
    by: User,
    listed: bool,
    description: str,
    specialties: Collection[str],
    regions: Collection[str],
    languages: Collection[str],
    logo=None,
    remove_logo: bool = False,
) -> DirectoryProfile:
    """Write the partner's directory profile; only its own partner admin may. A new logo
    (an uploaded file) replaces the old one, whose file is deleted once the change is
    committed; ``remove_logo`` drops it. Opting in needs a description, so that the
    directory never shows an empty card."""
    if not is_own_partner_admin(by, partner):
        raise PermissionDenied
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        raise ValidationError(
            {"description": gettext("At most %(n)d characters.") % {"n": DESCRIPTION_MAX}}
        )
    if listed and not description:
        raise ValidationError(
            {"description": gettext("Describe your company before you opt in to the directory.")}
        )
    stored = {
        "specialties": _codes(specialties, Specialty.values, "specialties"),
        "regions": _codes(regions, Region.values, "regions"),
        "languages": _codes(languages, Language.values, "languages"),
    }
    logo_type = directory_logo_check(logo) if logo is not None else None

    DirectoryProfile.objects.get_or_create(partner=partner)
    profile = DirectoryProfile.objects.select_for_update().get(partner=partner)
    old_logo = profile.logo.name if profile.logo else ""
    profile.listed = listed
    profile.description = description
    for field, value in stored.items():
        setattr(profile, field, value)
    if logo is not None:
        profile.logo.save(logo.name, logo, save=False)
        profile.logo_type = logo_type
    elif remove_logo:
        profile.logo = ""
        profile.logo_type = ""
    profile.updated_at = timezone.now()
    profile.updated_by = by
    profile.save()
    if old_logo and old_logo != profile.logo.name:
        storage = profile.logo.storage
        transaction.on_commit(lambda: storage.delete(old_logo))
    return profile


def directory_listed(partner: Partner) -> bool:
    profile = getattr(partner, "directory_profile", None)
    return bool(profile and profile.listed and partner.status == PartnerStatus.ACTIVE)


@transaction.atomic
def directory_inquiry_submit(
    *,
    partner: Partner,
    contact_name: str,
    company_name: str,
    contact_email: str,
    domain: str = "",
    message: str,
) -> DirectoryInquiry:
    """A customer's "Contact this partner": a lead passed directly to ``partner`` (source
    ``directory``), the inquiry kept beside it, and the partner told (a portal notice,
    e-mailed to its admins with the customer's words). The partner is locked and checked
    to be listed now: one that left the directory since the page was shown gets nothing."""
    partner = (
        Partner.objects.select_for_update(of=("self",))
        .select_related("directory_profile")
        .filter(pk=partner.pk)
        .first()
    )
    if partner is None or not directory_listed(partner):
        raise ValidationError(gettext("This partner is no longer in the directory."))
    contact_name, message = contact_name.strip(), message.strip()
    errors = {}
    if not contact_name:
        errors["contact_name"] = gettext("Tell the partner your name.")
    if not message:
        errors["message"] = gettext("Tell the partner what you need.")
    elif len(message) > MESSAGE_MAX:
        errors["message"] = gettext("At most %(n)d characters.") % {"n": MESSAGE_MAX}
    if errors:
        raise ValidationError(errors)
    lead = lead_create(
        company_name=company_name, domain=domain, source=LeadSource.DIRECTORY, partner=partner
    )
    inquiry = DirectoryInquiry(
        lead=lead,
        partner=partner,
        contact_name=contact_name,
        contact_email=contact_email.strip(),
        message=message,
    )
    inquiry.full_clean(exclude=["lead", "partner"])
    inquiry.save()
    # Stored text, read by the partner's people: in the site's language, not in the one
    # the customer browsed in.
    with translation.override(settings.LANGUAGE_CODE):
        _tell_partner(inquiry)
    return inquiry


def _tell_partner(inquiry: DirectoryInquiry) -> None:
    partner, lead = inquiry.partner, inquiry.lead
    contact_name, message = inquiry.contact_name, inquiry.message
    notice_send(
        partner=partner,
        level="success",
        kind=NoticeKind.LEADS,
        message=gettext_noop("New lead from the partner directory: %(company)s (%(name)s)."),
        params={
            "company": lead.company_name,
            "name": contact_name,
            "email": inquiry.contact_email,
            "message": message,
        },
        link=reverse("portal-directory-profile"),
        email_subject=gettext_noop("New lead from the partner directory: %(company)s"),
        email_body=gettext_noop(
            "%(name)s of %(company)s (%(email)s) contacted you through the partner "
            "directory. The lead is yours: reply to them directly. Their message: %(message)s"
        ),
    )
