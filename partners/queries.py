"""Reads shared by every face, and the one place that decides what a user may see.

``partners_visible_to`` is the scope: channel chiefs, executives and admins see every
partner; a channel manager sees the partners assigned to them; a partner person sees
their own partner; anyone else sees nothing. Every list in the portal, API and admin
is filtered through ``scope_to_user``, and every object loader raises 404 outside it.

Writes have a scope of their own, decided here too: ``partners_writable_by`` (whose data a
user may change as the vendor: a manager their own partners, chiefs and admins all,
executives and finance none), and from it ``accounts_writable_by`` and
``leads_writable_by`` for customer accounts and CRM leads, which every manager reads.
"""

from datetime import UTC, date, datetime

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
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
from prm.roles import ALL_PARTNER_ROLES, MANAGER_ROLES, VENDOR_ROLES, Role, role_of

from .models import (
    Account,
    ApiToken,
    Lead,
    LeadStatus,
    Notice,
    NoticeDelivery,
    NoticeKind,
    Partner,
    PartnerStatus,
    PartnerUser,
    Program,
    Tier,
    User,
)


def partner_id_of(user) -> int | None:
    """The partner a partner person works for (cached on the user object, with their role
    there: one query for both)."""
    if not hasattr(user, "_partner_id_cache"):
        membership = PartnerUser.objects.filter(user_id=user.pk).values_list("partner_id", "role")
        user._partner_id_cache, user._partner_role_cache = membership.first() or (None, None)
    return user._partner_id_cache


def partner_role_of(user) -> str | None:
    """The person's role at their partner (``PartnerRole``), or None; see ``partner_id_of``."""
    partner_id_of(user)
    return getattr(user, "_partner_role_cache", None)


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
    """The partner if the user may see it, with its program; 404 otherwise (never 403: no
    existence leak)."""
    queryset = partners_visible_to(user).select_related("program")
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    try:
        return queryset.get(pk=int(partner_id))
    except (Partner.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such partner.") from exc


def partners_writable_by(user) -> QuerySet[Partner]:
    """The partners whose data ``user`` may change as the vendor: every partner for channel
    chiefs and admins, the partners assigned to them for a channel manager, none for anyone
    else (executives and finance read every partner and change none of it; a partner's
    own people act on their partner through the checks of each of their pages).

    ``partners.permissions.manages_partner`` answers the same question for one partner
    without a query; the two are tested to agree."""
    role = role_of(user)
    if role == Role.CHANNEL_MANAGER:
        return Partner.objects.filter(channel_manager=user)
    if role in MANAGER_ROLES:
        return Partner.objects.all()
    return Partner.objects.none()


def channel_managers_assignable_by(user) -> QuerySet[User]:
    """Whom ``user`` may make a partner's channel manager: chiefs and admins assign any
    channel manager; a channel manager only themselves (handing a partner, or a new one,
    to a colleague is a chief's decision: it would be a write for a partner not theirs)."""
    role = role_of(user)
    if role == Role.CHANNEL_MANAGER:
        return channel_managers().filter(pk=user.pk)
    if role in MANAGER_ROLES:
        return channel_managers()
    return User.objects.none()


def members_visible_to(user) -> QuerySet[PartnerUser]:
    return scope_to_user(PartnerUser.objects.select_related("user", "partner"), user)


def accounts_visible_to(user) -> QuerySet[Account]:
    """Customer accounts are the vendor's own records: its staff read them all; a partner
    person reads the accounts their partner owns."""
    queryset = Account.objects.select_related("owning_partner")
    if role_of(user) in VENDOR_ROLES:
        return queryset
    return scope_to_user(queryset, user, partner_field="owning_partner")


def accounts_writable_by(user) -> QuerySet[Account]:
    """The accounts ``user`` may change (the API's PATCH, the admin's change form).

    An account is a customer, not a partner, and several partners may touch it: the
    partner that owns it (``owning_partner``, set by its first win), the partners with a
    registration of it, and the partners a CRM lead on it was passed to. It is an account
    *of* a manager's partners when every partner that touches it is one of theirs; a
    manager may then change it. An account one of another manager's partners touches is
    that manager's (or a chief's) to change, even if one of this manager's partners
    touches it too: its name, domain and direct owner decide conflicts for the other
    partner's registrations as well.

    An account no partner touches yet (a direct account, a prospect from the CRM) is the
    vendor's own open record: every manager may create and change it, as API.md's
    ``POST /accounts/`` lets them, since no partner's data is reached through it. Whoever
    gives it an owning partner can give it only to one of their own partners
    (``partners_writable_by``), and from then on it is that partner's.

    Chiefs and admins change every account; executives, finance and partner people none.
    Registrations are read through the ``deals`` reverse relation of the account, so that
    this app needs no import of the deals app above it.
    """
    role = role_of(user)
    if role == Role.CHANNEL_MANAGER:
        # A touch by any partner not assigned to this manager (an unassigned one included:
        # ``exclude`` keeps the NULLs) puts the account out of reach. Correlated EXISTS, so
        # that checking one account reads that account's own registrations and leads.
        deals = Account._meta.get_field("deals")
        registered_by_another = (
            deals.related_model.objects.filter(**{deals.field.name: OuterRef("pk")})
            .exclude(partner__channel_manager=user)
            .values("pk")
        )
        passed_to_another = (
            Lead.objects.filter(account=OuterRef("pk"), partner__isnull=False)
            .exclude(partner__channel_manager=user)
            .values("pk")
        )
        return (
            Account.objects.filter(
                Q(owning_partner__isnull=True) | Q(owning_partner__channel_manager=user)
            )
            .exclude(Exists(registered_by_another))
            .exclude(Exists(passed_to_another))
        )
    if role in MANAGER_ROLES:
        return Account.objects.all()
    return Account.objects.none()


def account_for_user(user, account_id, *, for_write: bool = False) -> Account:
    """The account if the user may see it (and, ``for_write``, change it).

    Outside what the user may see: 404. Seen but not theirs to change: ``PermissionDenied``
    (403), as for any object in read scope that the role may not write."""
    try:
        account = accounts_visible_to(user).get(pk=int(account_id))
    except (Account.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such account.") from exc
    if for_write and not accounts_writable_by(user).filter(pk=account.pk).exists():
        raise PermissionDenied("This account is not one of your partners' to change.")
    return account


def leads_visible_to(user) -> QuerySet[Lead]:
    """Vendor staff see every CRM lead; a partner sees only leads passed to it."""
    queryset = Lead.objects.select_related("partner", "account")
    if role_of(user) in {Role.CHANNEL_MANAGER, *ALL_PARTNER_ROLES}:
        return queryset
    return scope_to_user(queryset, user)


def leads_writable_by(user) -> QuerySet[Lead]:
    """The CRM leads ``user`` may change or delete. A lead passed to a partner belongs to
    that partner: its manager (or a chief) changes it. A lead passed to no partner is the
    vendor's own CRM record, which every manager may change (and pass to one of their own
    partners: ``partners_writable_by``). Chiefs and admins change all; nobody else any."""
    role = role_of(user)
    if role == Role.CHANNEL_MANAGER:
        return Lead.objects.filter(Q(partner__isnull=True) | Q(partner__channel_manager=user))
    if role in MANAGER_ROLES:
        return Lead.objects.all()
    return Lead.objects.none()


def lead_for_user(user, lead_id, *, for_write: bool = False) -> Lead:
    """The lead if the user may see it (and, ``for_write``, change it): 404 outside what
    they see, ``PermissionDenied`` (403) for a lead they see but may not change."""
    try:
        lead = leads_visible_to(user).get(pk=int(lead_id))
    except (Lead.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such lead.") from exc
    if for_write and not leads_writable_by(user).filter(pk=lead.pk).exists():
        raise PermissionDenied("This lead is not one of your partners' to change.")
    return lead


def leads_held_visible_to(user) -> QuerySet[Lead]:
    """The leads partners hold (offered or accepted) among those ``user`` may see: a partner
    person, their partner's; vendor staff, those of the partners they see."""
    queryset = Lead.objects.filter(partner__isnull=False).order_by("-created_at", "-pk")
    return scope_to_user(queryset, user)


def lead_offers_pending(partner_id: int) -> QuerySet[Lead]:
    """The leads offered to a partner and awaiting its answer, the soonest due first."""
    return (
        Lead.objects.filter(partner_id=partner_id, status=LeadStatus.OFFERED)
        .select_related("account")
        .order_by("offer_expires_at", "pk")
    )


def leads_accepted_by(partner_id: int) -> QuerySet[Lead]:
    """The leads a partner accepted and still holds as its own: open, registered as a
    deal, or closed; the latest accepted first."""
    return (
        Lead.objects.filter(
            partner_id=partner_id,
            status__in=(LeadStatus.ACCEPTED, LeadStatus.CONVERTED, LeadStatus.CLOSED),
        )
        .select_related("account")
        .order_by("-accepted_at", "-pk")
    )


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


def notices_listed(
    user, partner: Partner | int, *, kind: str = "", unread: bool | None = None
) -> QuerySet[Notice]:
    """The notification centre's list: ``notices_for``, of one kind if ``kind``, only the
    new ones (``unread=True``) or only the seen ones (``False``), newest first."""
    listed = notices_for(user, partner)
    if kind:
        listed = listed.filter(kind=kind)
    if unread is not None:
        listed = listed.filter(read=not unread)
    return listed.order_by("-created_at", "-pk")


def notice_deliveries_of(user) -> dict[str, str]:
    """``user``'s choice of e-mail per kind of notice (a kind not chosen: immediately)."""
    chosen = dict(user.notice_preferences.values_list("kind", "delivery"))
    return {kind: chosen.get(kind, NoticeDelivery.IMMEDIATELY) for kind in NoticeKind.values}


# The badge counts up to this many and then shows "99+": a person who never opened their
# notices at a partner with a long history costs a bounded read on every page.
UNREAD_BADGE_MAX = 99


def unread_notice_count(user, partner: Partner | int) -> int:
    """How many of ``notices_for`` are new to this person, counted up to one more than
    ``UNREAD_BADGE_MAX``, in one statement: the partner's notices for everyone and this
    person's own, each an index-only range of the (partner, user, created_at) index that
    stops after ``UNREAD_BADGE_MAX + 1`` rows, never a pass over the partner's notices for
    other people. bench/pages.py, for a person who never opened their notices at a partner
    whose 100 colleagues get 100,000 of their own: 1.5 ms, against 377 ms for the one
    range of (partner, created_at) that read every colleague's notice to skip it."""
    seen = _notices_seen_at(user)
    new = Notice.objects.filter(partner=partner, created_at__gt=seen).order_by()
    new = new.values("created_at")  # in the index: an index-only scan
    cap = UNREAD_BADGE_MAX + 1
    everyone = new.filter(user__isnull=True)[:cap]
    own = new.filter(user=user)[:cap]
    if not connection.features.supports_slicing_ordering_in_compound:
        # SQLite (the embedded default) takes no LIMIT inside a UNION: two statements.
        return min(everyone.count() + own.count(), cap)
    return min(everyone.union(own, all=True).count(), cap)


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


# ---------------------------------------------------------------- the partner directory


def directory_partners() -> QuerySet[Partner]:
    """The partners the public directory shows: active ones that opted in, with their
    profile and tier (the badge) in the same query."""
    return (
        Partner.objects.filter(status=PartnerStatus.ACTIVE, directory_profile__listed=True)
        .select_related("tier", "directory_profile")
        .order_by("-tier__rank", "name", "pk")
    )


def directory_search(
    *, q: str = "", region: str = "", specialty: str = "", language: str = "", tier: str = ""
) -> QuerySet[Partner]:
    """``directory_partners`` narrowed by the public page's filters; each value has been
    checked against its choices by the caller (an unknown one would match nothing)."""
    partners = directory_partners()
    if q:
        partners = partners.filter(name__icontains=q)
    if region:
        partners = partners.filter(directory_profile__regions__contains=f",{region},")
    if specialty:
        partners = partners.filter(directory_profile__specialties__contains=f",{specialty},")
    if language:
        partners = partners.filter(directory_profile__languages__contains=f",{language},")
    if tier:
        partners = partners.filter(tier__slug=tier)
    return partners


def directory_partner(partner_id) -> Partner:
    """One partner of the public directory; 404 for any other (not listed, not active)."""
    try:
        return directory_partners().get(pk=int(partner_id))
    except (Partner.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such partner in the directory.") from exc


def directory_tiers() -> list[tuple[str, str]]:
    """The tiers to filter the directory by, lowest first: (slug, name), each slug once
    across programs."""
    seen: dict[str, str] = {}
    for slug, name in Tier.objects.order_by("rank", "program_id").values_list("slug", "name"):
        seen.setdefault(slug, name)
    return list(seen.items())


def month_start(day: date) -> datetime:
    """The first instant of ``day``'s month, in the site's time zone."""
    return timezone.make_aware(datetime(day.year, day.month, 1))


def directory_lead_counts(partner_ids, *, since: datetime) -> dict[int, int]:
    """Directory leads passed to each of ``partner_ids`` since ``since``: one grouped
    query however many partners."""
    rows = (
        Lead.objects.filter(partner_id__in=partner_ids, source="directory", created_at__gte=since)
        .values("partner_id")
        .annotate(n=Count("pk"))
        .values_list("partner_id", "n")
    )
    return dict(rows)


def directory_report_partners(user, *, since: datetime) -> QuerySet[Partner]:
    """The partners ``user`` sees that are in the directory now, or got directory leads
    since ``since`` (and left it): the managers' report of leads against the range."""
    had_leads = Lead.objects.filter(
        partner=OuterRef("pk"), source="directory", created_at__gte=since
    )
    listed = Q(status=PartnerStatus.ACTIVE, directory_profile__listed=True)
    return scope_to_user(
        Partner.objects.filter(listed | Exists(had_leads))
        .select_related("tier", "channel_manager", "directory_profile")
        .order_by("name", "pk"),
        user,
        partner_field="pk",
    )
