"""Reads about certifications, shared by pages, API, admin and the quarter close."""

from collections.abc import Iterable
from datetime import date, timedelta

from django.db.models import Count, F, QuerySet, Sum
from django.utils import timezone

from partners.queries import scope_to_user
from prm.quarters import add_months

from .models import Certification


def _for_partners(queryset: QuerySet, partner_ids: Iterable[int] | QuerySet | None) -> QuerySet:
    """``queryset`` limited to the partners: a list of ids, a queryset of ids (read as a
    subquery), or ``None`` for every partner (the caller picks the ones it needs, which
    spares the grouped query a join)."""
    if partner_ids is None:
        return queryset
    ids = partner_ids if isinstance(partner_ids, QuerySet) else list(partner_ids)
    return queryset.filter(partner_id__in=ids)


def current_certifications(as_of: date) -> QuerySet[Certification]:
    """Certifications current on ``as_of``: issued on or before it, expiring after it."""
    return Certification.objects.filter(issued_on__lte=as_of, expires_on__gt=as_of)


def certified_rep_counts(
    partner_ids: Iterable[int] | QuerySet | None, as_of: date
) -> dict[int, int]:
    """Certified reps per partner on ``as_of`` (RULEBOOK §1): one grouped query.

    Only people still working for the partner count: a person who left takes
    their certifications with them. ``partner_ids``: as ``_for_partners`` takes them.
    """
    rows = (
        _for_partners(current_certifications(as_of), partner_ids)
        .filter(user__is_active=True, user__membership__partner_id=F("partner_id"))
        .values("partner_id")
        .annotate(reps=Count("user_id", distinct=True))
    )
    return {row["partner_id"]: row["reps"] for row in rows}


def certification_counts(
    partner_ids: Iterable[int] | QuerySet | None, as_of: date
) -> dict[int, tuple[int, int]]:
    """Per partner on ``as_of``: its certified reps (as ``certified_rep_counts``) and the
    current certifications they hold (as ``current_certification_counts``), in one
    grouped query. ``partner_ids``: as ``_for_partners`` takes them."""
    rows = (
        _for_partners(current_certifications(as_of), partner_ids)
        .filter(user__is_active=True, user__membership__partner_id=F("partner_id"))
        .values("partner_id")
        .annotate(reps=Count("user_id", distinct=True), n=Count("pk"))
    )
    return {row["partner_id"]: (row["reps"], row["n"]) for row in rows}


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


def engagement_counts(
    partner_ids: Iterable[int] | QuerySet | None, start: date, end: date
) -> dict[int, dict]:
    """Per partner, in [start, end]: distinct portal-login days, trainings, events.

    Three grouped queries, whatever the number of partners. ``partner_ids``: as
    ``_for_partners`` takes them; a partner with none of the three is left out.
    """
    from .models import EventAttendance, LoginDay, TrainingCompletion

    result: dict[int, dict] = {}
    for model, field, key in (
        (LoginDay, "day", "login_days"),
        (TrainingCompletion, "completed_on", "trainings"),
        (EventAttendance, "attended_on", "events"),
    ):
        rows = (
            _for_partners(model.objects.filter(**{f"{field}__range": (start, end)}), partner_ids)
            .values("partner_id")
            .annotate(n=Count(field, distinct=True) if key == "login_days" else Count("id"))
            .values_list("partner_id", "n")
        )
        for partner_id, n in rows:
            counts = result.get(partner_id)
            if counts is None:
                counts = result[partner_id] = {"login_days": 0, "trainings": 0, "events": 0}
            counts[key] = n
    if start < timezone.localdate() - LOGIN_DAYS_ALWAYS_KEPT:
        for partner_id, n in _rolled_up_login_days(partner_ids, start, end):
            counts = result.setdefault(partner_id, {"login_days": 0, "trainings": 0, "events": 0})
            counts["login_days"] += n
    return result


# Login days this recent are always kept day by day (the retention setting cannot go
# lower): every scorecard and QBR of the last year reads them so, with no extra query.
LOGIN_DAYS_ALWAYS_KEPT = timedelta(days=400)


def _rolled_up_login_days(partner_ids, start: date, end: date) -> list[tuple[int, int]]:
    """Login days of the months wholly inside [start, end] whose day rows were summed into
    ``LoginMonth`` (their day rows are gone, so nothing is counted twice)."""
    from .models import LoginMonth

    first = start if start.day == 1 else add_months(start.replace(day=1), 1)
    last = add_months((end + timedelta(days=1)).replace(day=1), -1)  # ends by ``end``
    return list(
        _for_partners(LoginMonth.objects.filter(month__range=(first, last)), partner_ids)
        .values("partner_id")
        .annotate(n=Sum("login_days"))
        .values_list("partner_id", "n")
    )


def lapsed_certification_partners(partner_ids: Iterable[int] | QuerySet, as_of: date) -> set[int]:
    """Partners with a person whose certification has expired and who holds no current one.

    A current certification at any of the given partners counts. ``partner_ids``: ids, or a
    queryset of them.
    """
    ids = partner_ids if isinstance(partner_ids, QuerySet) else list(partner_ids)
    current = current_certifications(as_of).filter(partner_id__in=ids).values("user_id")
    return set(
        Certification.objects.filter(partner_id__in=ids, expires_on__lte=as_of)
        .exclude(user_id__in=current)
        .values_list("partner_id", flat=True)
        .order_by()
        .distinct()
    )


# ---------------------------------------------------------------- onboarding


def onboarding_plan(partner) -> list:
    """The partner's onboarding tasks with their milestones, in curriculum order."""
    from .models import OnboardingTask

    return list(
        OnboardingTask.objects.filter(partner=partner)
        .select_related("milestone", "milestone__certification_type", "completed_by")
        .order_by("due_on", "milestone__order")
    )


def onboarding_summary(partner, *, today: date) -> dict | None:
    """Done, total, overdue and percent of the partner's plan; None without a plan."""
    from django.db.models import Q

    from . import rules
    from .models import OnboardingTask

    row = OnboardingTask.objects.filter(partner=partner).aggregate(
        total=Count("pk"),
        done=Count("pk", filter=Q(completed_on__isnull=False)),
        overdue=Count("pk", filter=Q(completed_on__isnull=True, due_on__lt=today)),
    )
    if not row["total"]:
        return None
    return {**row, "percent": rules.progress(row["done"], row["total"])}


def onboarding_tasks_visible_to(user) -> QuerySet:
    from .models import OnboardingTask

    return scope_to_user(
        OnboardingTask.objects.select_related("partner", "milestone", "completed_by"), user
    )


# ---------------------------------------------------------------- recruitment


def recruitment_progress(target) -> dict:
    """Partners that started in the target's period (not prospects), and the applications
    received and approved in it: a few counts."""
    from django.db.models import Q

    from partners.models import Partner

    from .models import PartnerApplication

    started = (
        Partner.objects.filter(
            program_id=target.program_id,
            started_on__range=(target.starts_on, target.ends_on),
        )
        .exclude(status="prospect")
        .count()
    )
    applications = PartnerApplication.objects.filter(
        program_id=target.program_id,
        submitted_at__date__range=(target.starts_on, target.ends_on),
    ).aggregate(
        received=Count("pk"),
        approved=Count("pk", filter=Q(status__in=["onboarding", "active"])),
        declined=Count("pk", filter=Q(status="declined")),
    )
    if started < target.target_low:
        verdict = "behind"
    elif started > target.target_high:
        verdict = "ahead"
    else:
        verdict = "on target"
    return {"started": started, "verdict": verdict, **applications}


# ---------------------------------------------------------------- content and campaigns


def content_for(partner) -> QuerySet:
    """The program's published content, each marked whether the partner's tier opens it."""
    from django.db.models import BooleanField, Case, Value, When

    from .models import ContentItem

    return (
        ContentItem.objects.filter(program_id=partner.program_id, published=True)
        .annotate(
            allowed=Case(
                When(min_tier_rank__lte=partner.tier.rank, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
        .order_by("min_tier_rank", "kind", "title")
    )


def campaigns_visible_to(user) -> QuerySet:
    from .models import Campaign

    return (
        scope_to_user(Campaign.objects.select_related("partner", "activity"), user)
        .annotate(leads_count=Count("leads"))
        .order_by("-starts_on", "-pk")
    )
