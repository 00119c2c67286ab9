"""Writes of the enablement app."""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from partners.models import Partner, PartnerUser, User
from prm.quarters import add_months

from .models import (
    Certification,
    CertificationType,
    EventAttendance,
    LoginDay,
    TrainingCompletion,
)


@transaction.atomic
def certification_award(
    *,
    partner: Partner,
    user: User,
    certification: CertificationType | str,
    issued_on: date,
    expires_on: date | None = None,
    awarded_by: User | None = None,
) -> Certification:
    """Record that one of the partner's people passed a certification.

    ``expires_on`` defaults to the type's validity from ``issued_on``.
    """
    if isinstance(certification, str):
        cert_type = CertificationType.objects.filter(slug=certification, is_active=True).first()
        if cert_type is None:
            slugs = ", ".join(
                CertificationType.objects.filter(is_active=True).values_list("slug", flat=True)
            )
            raise ValidationError(
                {"certification": f"No certification {certification!r}; known: {slugs}."}
            )
    else:
        cert_type = certification
    if not PartnerUser.objects.filter(user=user, partner=partner).exists():
        raise ValidationError({"user": f"{user} does not work for {partner}."})
    expires_on = expires_on or add_months(issued_on, cert_type.validity_months)
    if expires_on <= issued_on:
        raise ValidationError({"expires_on": "A certification must expire after it is issued."})
    try:
        with transaction.atomic():
            return Certification.objects.create(
                partner=partner,
                user=user,
                certification_type=cert_type,
                issued_on=issued_on,
                expires_on=expires_on,
                awarded_by=awarded_by,
            )
    except IntegrityError as exc:
        raise ValidationError(
            {"certification": f"{user} already holds {cert_type} issued on {issued_on}."}
        ) from exc


def login_day_record(*, user: User, day: date) -> bool:
    """Note that a partner person signed in to the portal on ``day`` (once per day).

    Returns whether a new day was recorded. Vendor staff and people without a partner
    are ignored.
    """
    partner_id = PartnerUser.objects.filter(user=user).values_list("partner_id", flat=True).first()
    if partner_id is None:
        return False
    created = LoginDay.objects.bulk_create(
        [LoginDay(user=user, partner_id=partner_id, day=day)], ignore_conflicts=True
    )
    return bool(created and created[0].pk)


def _member_of(partner: Partner, user: User) -> None:
    if not PartnerUser.objects.filter(user=user, partner=partner).exists():
        raise ValidationError({"user": f"{user} does not work for {partner}."})


@transaction.atomic
def training_completion_record(
    *, partner: Partner, user: User, course: str, completed_on: date, recorded_by: User | None
) -> TrainingCompletion:
    course = (course or "").strip()
    if not course:
        raise ValidationError({"course": "Name the course."})
    _member_of(partner, user)
    completion, _ = TrainingCompletion.objects.get_or_create(
        user=user,
        course=course,
        completed_on=completed_on,
        defaults={"partner": partner, "recorded_by": recorded_by},
    )
    return completion


@transaction.atomic
def event_attendance_record(
    *, partner: Partner, user: User, event: str, attended_on: date, recorded_by: User | None
) -> EventAttendance:
    event = (event or "").strip()
    if not event:
        raise ValidationError({"event": "Name the event."})
    _member_of(partner, user)
    attendance, _ = EventAttendance.objects.get_or_create(
        user=user,
        event=event,
        attended_on=attended_on,
        defaults={"partner": partner, "recorded_by": recorded_by},
    )
    return attendance
