"""A channel manager's internal notes on a partner (the partner 360 page's timeline)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext

from ..models import ManagerNote, Partner, User
from ..permissions import manages_partner


@transaction.atomic
def manager_note_add(*, partner: Partner, by: User, text: str) -> ManagerNote:
    """Add a note to ``partner``'s timeline, written by ``by``, who must manage the partner
    (its channel manager, a chief or an administrator; executives and finance read only).
    The note is internal: no notice, mail or event tells the partner."""
    if not manages_partner(by, partner):
        raise PermissionDenied(gettext("Only the partner's channel manager may add notes."))
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": gettext("Write the note before adding it.")})
    if len(text) > ManagerNote.TEXT_MAX:
        raise ValidationError(
            {
                "text": gettext("A note is at most %(max)s characters (this one has %(n)s).")
                % {"max": ManagerNote.TEXT_MAX, "n": len(text)}
            }
        )
    return ManagerNote.objects.create(partner=partner, author=by, text=text)
