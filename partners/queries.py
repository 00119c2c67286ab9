"""Reads shared by every face, and the one place that decides what a user may see.

``partners_visible_to`` is the scope: channel chiefs, executives and admins see every
partner; a channel manager sees the partners assigned to them; a partner person sees
their own partner; anyone else sees nothing. Every list in the portal, API and admin
is filtered through ``scope_to_user``, and every object loader raises 404 outside it.
"""

from datetime import UTC, date, datetime

from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from prm.business_days import BusinessCalendar
from prm.normalize import normalize_company_name, normalize_domain
from prm.roles import ALL_PARTNER_ROLES, Role, role_of

from .models import (
    Account,
    ApiToken,
    Lead,
    Notice,
    Partner,
    PartnerStatus,
    PartnerUser,
    Program,
    Tier,
    User,
)


def partner_id_of(user) -> int | None:
    """The partner a partner person works for (cached on the user object)."""
    if not hasattr(user, "_partner_id_cache"):
        membership = PartnerUser.objects.filter(user_id=user.pk).values_list(
            "partner_id", flat=True
        )
        user._partner_id_cache = membership.first()
    return user._partner_id_cache


def scope_to_user(queryset: QuerySet, user, *, partner_field: str = "partner") -> QuerySet:
    """Filter ``queryset`` to rows whose ``partner_field`` the user may see.

    ``partner_field`` is the lookup path from the queryset's model to ``Partner``;
    pass ``"pk"`` for a queryset of partners.
    """
    role = role_of(user)
    if role in ALL_PARTNER_ROLES:
        return queryset
    if role == Role.CHANNEL_MANAGER:
        key = "channel_manager" if partner_field == "pk" else f"{partner_field}__channel_manager"
        return queryset.filter(**{key: user})
    if role == Role.PARTNER:
        partner_id = partner_id_of(user)
        if partner_id is not None:
            return queryset.filter(**{partner_field: partner_id})
    return queryset.none()


def partners_visible_to(user) -> QuerySet[Partner]:
    return scope_to_user(
        Partner.objects.select_related("program", "tier", "channel_manager"),
        user,
        partner_field="pk",
    )


def partner_for_user(user, partner_id, *, for_update: bool = False) -> Partner:
    """The partner if the user may see it; 404 otherwise (never 403: no existence leak)."""
    queryset = partners_visible_to(user)
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    try:
        return queryset.get(pk=int(partner_id))
    except (Partner.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such partner.") from exc


def members_visible_to(user) -> QuerySet[PartnerUser]:
    return scope_to_user(PartnerUser.objects.select_related("user", "partner"), user)


def leads_visible_to(user) -> QuerySet[Lead]:
    """Vendor staff see every CRM lead; a partner sees only leads passed to it."""
    queryset = Lead.objects.select_related("partner", "account")
    if role_of(user) in {Role.CHANNEL_MANAGER, *ALL_PARTNER_ROLES}:
        return queryset
    return scope_to_user(queryset, user)


def account_matching(*, name: str, domain: str) -> Account | None:
    """The account a customer name/domain refers to (RULEBOOK §4): by registrable domain,
    else by normalised company name. One indexed lookup each; an account merged into
    another leads to that one.

    Two different domains are two different companies, even with the same name ("Acme"
    at acme.com and at acme.io): with a domain given, the name only matches an account
    that has no domain on record. (That they are *probably* the same customer is for the
    registration's probe to say, not for this lookup.)
    """
    accounts = Account.objects.select_related("merged_into").order_by(
        F("merged_into").asc(nulls_first=True), "pk"
    )
    domain_key = normalize_domain(domain)
    found = None
    if domain_key:
        found = accounts.filter(domain_key=domain_key).first()
    name_key = normalize_company_name(name)
    if found is None and name_key:
        candidates = accounts.filter(name_key=name_key)
        if domain_key:
            candidates = candidates.filter(domain_key="")
        found = candidates.order_by(
            "domain_key", F("merged_into").asc(nulls_first=True), "pk"
        ).first()
    if found is not None and found.merged_into_id:
        return found.merged_into
    return found


def programs_with_tiers() -> QuerySet[Program]:
    return Program.objects.prefetch_related("tiers").order_by("-is_default", "name")


def default_program() -> Program:
    program = Program.objects.filter(is_default=True).first()
    if program is None:
        raise Program.DoesNotExist("No default program is installed; run `load_program seed001`.")
    return program


def tier_by_slug(program: Program, slug: str) -> Tier:
    return Tier.objects.get(program=program, slug=slug)


def partner_counts_by_tier(partners: QuerySet[Partner]) -> list[dict]:
    """Active partners per tier, highest tier first: one grouped query."""
    return list(
        partners.filter(status=PartnerStatus.ACTIVE)
        .values("tier__slug", "tier__name", "tier__rank")
        .annotate(count=Count("id"))
        .order_by("-tier__rank")
    )


def channel_managers() -> QuerySet[User]:
    return User.objects.filter(role=Role.CHANNEL_MANAGER, is_active=True).order_by("username")


def partners_started_between(partners: QuerySet[Partner], start: date, end: date) -> int:
    return partners.filter(started_on__range=(start, end)).count()


def _notices_seen_at(user):
    """When ``user`` last saw their partner's notices (the epoch if never), as a subquery."""
    seen = PartnerUser.objects.filter(user=user).order_by().values("notices_seen_at")[:1]
    return Coalesce(Subquery(seen), Value(datetime(1970, 1, 1, tzinfo=UTC)))


def notices_for(user, partner: Partner | int) -> QuerySet[Notice]:
    """The partner's notices meant for this person (or for everyone there), newest first,
    each with ``read``: whether this person has seen it."""
    return (
        Notice.objects.filter(partner=partner)
        .filter(Q(user__isnull=True) | Q(user=user))
        .annotate(
            read=ExpressionWrapper(
                Q(created_at__lte=_notices_seen_at(user)), output_field=BooleanField()
            )
        )
    )


def unread_notice_count(user, partner: Partner | int) -> int:
    """How many of ``notices_for`` are new to this person: an index range, not a scan of
    the partner's every notice."""
    return (
        Notice.objects.filter(partner=partner, created_at__gt=_notices_seen_at(user))
        .filter(Q(user__isnull=True) | Q(user=user))
        .count()
    )


def business_calendar(program: Program) -> BusinessCalendar:
    """The program's business days: weekdays minus its country's and its own holidays."""
    return BusinessCalendar(program.holiday_country, program.holidays.values_list("day", flat=True))


def rebate_brackets(program: Program) -> list[tuple]:
    """``(revenue_from, rate, fast_track)`` of the program's volume rebate table, ascending."""
    return list(program.rebate_brackets.values_list("revenue_from", "rate", "fast_track"))


def api_tokens_of(user: User) -> QuerySet[ApiToken]:
    """The user's live API tokens, newest first (expired ones are refused and swept)."""
    return ApiToken.objects.filter(user=user).filter(
        Q(expiry__isnull=True) | Q(expiry__gt=timezone.now())
    )


def api_tokens_visible_to(user: User) -> QuerySet[ApiToken]:
    """The admin's token list: administrators see everyone's, other staff their own."""
    tokens = ApiToken.objects.select_related("user")
    if role_of(user) == Role.ADMIN:
        return tokens
    return tokens.filter(user=user)
