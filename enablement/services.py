"""Writes of the enablement app."""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from partners.models import Partner, PartnerUser, User
from prm.quarters import add_months

from .models import Certification, CertificationType


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
