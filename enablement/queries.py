"""Reads about certifications, shared by pages, API, admin and the quarter close."""

from collections.abc import Iterable
from datetime import date

from django.db.models import Count, F, QuerySet

from partners.queries import scope_to_user

from .models import Certification


def current_certifications(as_of: date) -> QuerySet[Certification]:
    """Certifications current on ``as_of``: issued on or before it, expiring after it."""
    return Certification.objects.filter(issued_on__lte=as_of, expires_on__gt=as_of)


def certified_rep_counts(partner_ids: Iterable[int], as_of: date) -> dict[int, int]:
    """Certified reps per partner on ``as_of`` (RULEBOOK §1): one grouped query.

    Only people still working for the partner count: a person who left takes
    their certifications with them.
    """
    rows = (
        current_certifications(as_of)
        .filter(
            partner_id__in=list(partner_ids),
            user__is_active=True,
            user__membership__partner_id=F("partner_id"),
        )
        .values("partner_id")
        .annotate(reps=Count("user_id", distinct=True))
    )
    return {row["partner_id"]: row["reps"] for row in rows}


def current_certification_counts(partner_ids, as_of: date) -> dict[int, int]:
    """Current certifications held by the partner's present people on ``as_of`` (the
    Training Champion award counts certifications, not people): one grouped query."""
    rows = (
        current_certifications(as_of)
        .filter(
            partner_id__in=partner_ids,
            user__is_active=True,
            user__membership__partner_id=F("partner_id"),
        )
        .values("partner_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {row["partner_id"]: row["n"] for row in rows}


def certifications_visible_to(user) -> QuerySet[Certification]:
    return scope_to_user(
        Certification.objects.select_related("user", "certification_type", "partner"), user
    )


def engagement_counts(partner_ids: Iterable[int], start: date, end: date) -> dict[int, dict]:
    """Per partner, in [start, end]: distinct portal-login days, trainings, events.

    Three grouped queries, whatever the number of partners.
    """
    from .models import EventAttendance, LoginDay, TrainingCompletion

    ids = list(partner_ids)
    result: dict[int, dict] = {pid: {"login_days": 0, "trainings": 0, "events": 0} for pid in ids}
    for model, field, key in (
        (LoginDay, "day", "login_days"),
        (TrainingCompletion, "completed_on", "trainings"),
        (EventAttendance, "attended_on", "events"),
    ):
        rows = (
            model.objects.filter(partner_id__in=ids, **{f"{field}__range": (start, end)})
            .values("partner_id")
            .annotate(n=Count(field, distinct=True) if key == "login_days" else Count("id"))
        )
        for row in rows:
            result[row["partner_id"]][key] = row["n"]
    return result


def lapsed_certification_partners(partner_ids: Iterable[int], as_of: date) -> set[int]:
    """Partners with a person whose certification has expired and who holds no current one."""
    ids = list(partner_ids)
    current = current_certifications(as_of).filter(partner_id__in=ids).values("user_id")
    return set(
        Certification.objects.filter(partner_id__in=ids, expires_on__lte=as_of)
        .exclude(user_id__in=current)
        .values_list("partner_id", flat=True)
        .distinct()
    )
