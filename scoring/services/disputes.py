"""Scorecard disputes (RULEBOOK §2): a partner's person objects to a scorecard with a
reason; the partner's channel manager (or a chief, an admin) answers. Both are kept, with
their history; each side is told of the other's move."""

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from partners.models import NoticeKind, User
from partners.permissions import manages_partner
from partners.queries import partner_id_of
from partners.services import notice_send
from partners.services.notices import language_of
from prm.mail import mail_on_commit
from prm.roles import Role, role_of

from ..models import DISPUTE_TEXT_MAX, DisputeStatus, Scorecard, ScorecardDispute


class DisputeError(Exception):
    """A refusal in words the person understands (translated when raised)."""

    def __init__(self, message: str, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.code = code


def _text(value, *, missing: str, too_long: str) -> str:
    """``value`` trimmed; refused when empty or longer than the column holds."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise DisputeError(gettext(missing), code="required")
    if len(text) > DISPUTE_TEXT_MAX:
        raise DisputeError(
            gettext(too_long) % {"max": DISPUTE_TEXT_MAX, "n": len(text)}, code="too_long"
        )
    return text


def _save(dispute: ScorecardDispute, by: User | None, reason: str) -> ScorecardDispute:
    dispute._history_user = by
    dispute._change_reason = reason
    dispute.save()
    return dispute


@transaction.atomic
def dispute_raise(*, scorecard: Scorecard, by: User, reason: str) -> ScorecardDispute:
    """``by``, one of the scorecard's partner's people, disputes it. One open dispute per
    scorecard. The partner's channel manager (none: the channel chiefs) is e-mailed."""
    if role_of(by) != Role.PARTNER or partner_id_of(by) != scorecard.partner_id:
        raise DisputeError(
            gettext("Only the partner's own people can dispute its scorecard."), code="forbidden"
        )
    text = _text(
        reason,
        missing=gettext_noop("Say why you dispute this scorecard."),
        too_long=gettext_noop("Keep the reason to %(max)s characters (it has %(n)s)."),
    )
    # Lock the scorecard so that two disputes sent at once do not both pass the check.
    scorecard = (
        Scorecard.objects.select_for_update(of=("self",))
        .select_related("partner__channel_manager")
        .get(pk=scorecard.pk)
    )
    if scorecard.disputes.filter(status=DisputeStatus.OPEN).exists():
        raise DisputeError(
            gettext("This scorecard already has an open dispute; wait for its answer."),
            code="already_open",
        )
    dispute = ScorecardDispute(
        scorecard=scorecard, raised_by=by, reason=text, raised_at=timezone.now()
    )
    try:
        with transaction.atomic():
            _save(dispute, by, "Raised")
    except IntegrityError as exc:  # a dispute raised a moment ago
        raise DisputeError(
            gettext("This scorecard already has an open dispute; wait for its answer."),
            code="already_open",
        ) from exc
    _tell_managers(dispute)
    return dispute


def _tell_managers(dispute: ScorecardDispute) -> None:
    scorecard = dispute.scorecard
    partner = scorecard.partner
    manager = partner.channel_manager
    if manager is not None and manager.is_active and manager.email:
        recipients = [manager]
    else:
        recipients = list(
            User.objects.filter(role=Role.CHANNEL_CHIEF, is_active=True).exclude(email="")
        )
    for person in recipients:
        with translation.override(language_of(person)):
            subject = gettext("%(partner)s disputes its %(quarter)s scorecard") % {
                "partner": partner.name,
                "quarter": scorecard.quarter,
            }
            body = "\n\n".join(
                [
                    gettext("%(partner)s disputes its %(quarter)s scorecard (%(total)s of 100).")
                    % {
                        "partner": partner.name,
                        "quarter": scorecard.quarter,
                        "total": scorecard.total,
                    },
                    dispute.reason,
                    gettext("Answer it in the admin, under Scorecard disputes (%(path)s).")
                    % {"path": reverse("admin:scoring_scorecarddispute_change", args=[dispute.pk])},
                ]
            )
        mail_on_commit(subject, body, [person.email])


@transaction.atomic
def dispute_answer(*, dispute: ScorecardDispute, by: User, answer: str) -> ScorecardDispute:
    """The partner's channel manager (a chief, an admin) answers an open dispute. The
    partner's people are told with a portal notice (and an e-mail, as each chose)."""
    dispute = (
        ScorecardDispute.objects.select_for_update(of=("self",))
        .select_related("scorecard__partner")
        .get(pk=dispute.pk)
    )
    partner = dispute.scorecard.partner
    if not manages_partner(by, partner):
        raise DisputeError(
            gettext("Only the partner's channel manager can answer its disputes."),
            code="forbidden",
        )
    if not dispute.is_open:
        raise DisputeError(gettext("This dispute has been answered already."), code="answered")
    dispute.answer = _text(
        answer,
        missing=gettext_noop("Write an answer to the dispute."),
        too_long=gettext_noop("Keep the answer to %(max)s characters (it has %(n)s)."),
    )
    dispute.status = DisputeStatus.ANSWERED
    dispute.answered_by = by
    dispute.answered_at = timezone.now()
    _save(dispute, by, "Answered")
    notice_send(
        partner=partner,
        kind=NoticeKind.GENERAL,
        level="info",
        message=gettext_noop(
            "Your channel manager answered your dispute of the %(quarter)s scorecard."
        ),
        params={"quarter": dispute.scorecard.quarter},
        link=reverse("portal-scorecards") + f"#scorecard-{dispute.scorecard.quarter}",
        email_subject=gettext_noop("The answer to your %(quarter)s scorecard dispute"),
    )
    return dispute
