"""Every write of the partners app: one function per use case, each in one transaction."""

import csv
import io
import logging
import re
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from prm.audit import audited
from prm.countries import COUNTRY_CODES
from prm.deferred_text import text_stored
from prm.mail import mail_on_commit
from prm.normalize import NotADomain, normalize_host, registrable_domain
from prm.roles import Role
from prm.uploads import KINDS as UPLOAD_KINDS
from prm.uploads import csv_upload_text

from .. import signals
from ..models import (
    Account,
    ApiToken,
    Lead,
    LeadOffer,
    LeadSource,
    LeadStatus,
    OutreachTask,
    Partner,
    PartnerRole,
    PartnerStatus,
    PartnerUser,
    Program,
    RebateBracket,
    RedFlag,
    RedFlagKind,
    Region,
    Specialty,
    Tier,
    TierChange,
    TierChangeCause,
    User,
)
from ..presets import PRESETS
from ..queries import account_matching, default_program

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------- programs


@transaction.atomic
def program_install(*, preset: str, make_default: bool = False) -> Program:
    """Install or refresh a program preset (RULEBOOK §1). Running it twice changes nothing."""
    try:
        data = PRESETS[preset]
    except KeyError as exc:
        names = ", ".join(sorted(PRESETS))
        raise ValidationError(f"Unknown program preset {preset!r}; choose one of {names}.") from exc
    fields = dict(data["program"])
    slug = fields.pop("slug")
    program, _ = Program.objects.update_or_create(slug=slug, defaults=fields)
    for tier in data["tiers"]:
        tier = dict(tier)
        Tier.objects.update_or_create(program=program, slug=tier.pop("slug"), defaults=tier)
    for bracket in data.get("rebate_brackets", []):
        bracket = dict(bracket)
        RebateBracket.objects.update_or_create(
            program=program, revenue_from=bracket.pop("revenue_from"), defaults=bracket
        )
    if make_default and not program.is_default:
        Program.objects.filter(is_default=True).update(is_default=False)
        program.is_default = True
        program.save(update_fields=["is_default"])
    return program


# ---------------------------------------------------------------- partners


def _tier_for(program: Program, tier: Tier | str | None) -> Tier:
    if isinstance(tier, Tier):
        if tier.program_id != program.pk:
            raise ValidationError({"tier": f"Tier {tier.slug!r} is not part of {program}."})
        return tier
    tiers = program.tiers.order_by("rank")
    found = tiers.filter(slug=tier).first() if tier else tiers.first()
    if found is None:
        slugs = ", ".join(tiers.values_list("slug", flat=True))
        raise ValidationError({"tier": f"{program} has no tier {tier!r}; its tiers are {slugs}."})
    return found


def _check_channel_manager(user: User | None) -> None:
    if user is not None and user.role != Role.CHANNEL_MANAGER:
        raise ValidationError({"channel_manager": f"{user} is not a channel manager."})


def partner_domain_check(domain: str, *, exclude_pk: int | None = None) -> str:
    """The normalised domain if it is a domain and no other partner has it; else
    ``ValidationError`` on ``domain``."""
    key = normalize_host(domain)
    if not key or "." not in key:
        raise ValidationError({"domain": f"{domain!r} is not a domain name like example.com."})
    clash = Partner.objects.filter(domain_key=key)
    if exclude_pk:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ValidationError({"domain": f"A partner with the domain {key} already exists."})
    return key


@audited
@transaction.atomic
def partner_create(
    *,
    name: str,
    domain: str,
    program: Program | None = None,
    tier: Tier | str | None = None,
    status: str = PartnerStatus.PROSPECT,
    annual_quota: Decimal | None = None,
    agreement_signed_on: date | None = None,
    started_on: date | None = None,
    channel_manager: User | None = None,
    region: str = "",
    currency: str = "",
    lead_countries: Sequence[str] = (),
    lead_specialties: Sequence[str] = (),
    lead_languages: Sequence[str] = (),
    created_by: User | None = None,
) -> Partner:
    """A partner in ``tier`` from ``started_on`` (today by default): its tier history starts
    that day (or now, for a partner that starts later)."""
    program = program or default_program()
    tier_obj = _tier_for(program, tier)
    partner_domain_check(domain)
    _check_channel_manager(channel_manager)
    partner = Partner(
        program=program,
        tier=tier_obj,
        name=name.strip(),
        domain=domain.strip(),
        status=status,
        annual_quota=annual_quota,
        agreement_signed_on=agreement_signed_on,
        started_on=started_on or timezone.localdate(),
        channel_manager=channel_manager,
        region=region,
        currency=(currency or "").strip().upper(),
        lead_countries=list(lead_countries or ()),
        lead_specialties=list(lead_specialties or ()),
        lead_languages=list(lead_languages or ()),
    )
    partner.full_clean(exclude=["domain_key"])
    try:
        partner.save()
    except IntegrityError as exc:  # a concurrent create of the same domain
        raise ValidationError({"domain": "A partner with this domain already exists."}) from exc
    TierChange.objects.create(
        partner=partner,
        from_tier=None,
        to_tier=tier_obj,
        cause=TierChangeCause.INITIAL,
        changed_by=created_by,
        changed_at=min(
            timezone.now(),
            timezone.make_aware(datetime.combine(partner.started_on, time.min)),
        ),
    )
    return partner


TIER_EDITABLE = frozenset(Tier.TERMS)


@audited
@transaction.atomic
def tier_update(*, tier: Tier, by: User, reason: str = "", **changes) -> Tier:
    """Change a tier definition's thresholds or benefits; its history keeps who and when."""
    unknown = set(changes) - TIER_EDITABLE
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be changed here."))
    tier = Tier.objects.select_for_update().get(pk=tier.pk)
    for field, value in changes.items():
        setattr(tier, field, value)
    tier.full_clean()
    tier._change_reason = reason or "Updated"
    tier.save()
    return tier


PARTNER_EDITABLE = {
    "name",
    "currency",
    "region",
    "domain",
    "status",
    "annual_quota",
    "agreement_signed_on",
    "started_on",
    "channel_manager",
    "lead_countries",
    "lead_specialties",
    "lead_languages",
}


@audited
@transaction.atomic
def partner_update(
    *,
    partner: Partner,
    changed_by: User | None,
    tier: Tier | str | None = None,
    tier_reason: str = "",
    **changes,
) -> Partner:
    """Change a partner's details; a tier change is a manager override and needs a reason."""
    unknown = set(changes) - PARTNER_EDITABLE
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be changed here."))
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    if "domain" in changes:
        partner_domain_check(changes["domain"], exclude_pk=partner.pk)
    if "channel_manager" in changes:
        _check_channel_manager(changes["channel_manager"])
    if "currency" in changes:
        changes["currency"] = (changes["currency"] or "").strip().upper()
    for field, value in changes.items():
        setattr(partner, field, value)
    partner.full_clean(exclude=["domain_key"])
    partner._change_reason = tier_reason or "Updated"
    partner.save()
    if tier is not None:
        new_tier = _tier_for(partner.program, tier)
        if new_tier.pk != partner.tier_id:
            partner_set_tier(
                partner=partner,
                tier=new_tier,
                cause=TierChangeCause.OVERRIDE,
                reason=tier_reason,
                changed_by=changed_by,
            )
    return partner


@audited
@transaction.atomic
def partner_set_tier(
    *,
    partner: Partner,
    tier: Tier,
    cause: str,
    changed_by: User | None = None,
    reason: str = "",
    reason_message: str = "",
    reason_params: dict | None = None,
    quarter: str = "",
    at: datetime | None = None,
) -> TierChange:
    """Move a partner to ``tier`` and record why (RULEBOOK §3): ``reason`` as a person
    typed it (a manager's override), or ``reason_message``, a source marked with
    ``gettext_noop``, and its ``reason_params``, shown in the reader's language."""
    if reason_message:
        reason = text_stored(reason_message, reason_params)
    if cause == TierChangeCause.OVERRIDE and not reason.strip():
        raise ValidationError({"tier_reason": "A tier override needs a written reason."})
    if tier.program_id != partner.program_id:
        raise ValidationError({"tier": f"Tier {tier.slug!r} is not part of {partner.program}."})
    change = TierChange.objects.create(
        partner=partner,
        from_tier_id=partner.tier_id,
        to_tier=tier,
        cause=cause,
        quarter=quarter,
        reason=reason.strip(),
        reason_message=reason_message,
        reason_params=reason_params or {},
        changed_by=changed_by,
        changed_at=at or timezone.now(),
    )
    partner.tier = tier
    partner._change_reason = (reason.strip() or TierChangeCause(cause).label)[:100]
    partner._history_user = changed_by
    partner.save(update_fields=["tier"])
    signals.tier_changed.send(sender=TierChange, changes=[change])
    return change


# ---------------------------------------------------------------- the quarter close's changes


@dataclass(frozen=True)
class CloseOutcome:
    """What a quarter close decided for one partner (``scoring`` decides; this app keeps)."""

    partner_id: int
    tier_before_id: int
    tier_after_id: int
    exits: bool
    score: Decimal
    cause: str = ""  # a TierChangeCause when the tier moves or the partner exits
    reason: str = ""  # the reason in English; with its source and values, shown translated
    reason_message: str = ""
    reason_params: dict | None = None
    version_id: int | None = None  # the program version it was decided under


def partners_close_apply(
    *, quarter: str, outcomes: Sequence[CloseOutcome], by: User | None, at: datetime
) -> int:
    """Keep a quarter close's decisions for a batch of partners, set-wise, in the caller's
    transaction: a ``TierChange`` per move or exit (once per partner and quarter, so a
    rerun adds none), the tier and status moved with a history row by the system with the
    reason, and the latest score (unless a later quarter's is kept). Rows whose values do
    not change are not written. A few statements per batch, whatever its size. Returns
    how many partners moved. The tier changes recorded now (not those of an earlier run)
    are announced (``signals.tier_changed``)."""
    changes = [
        TierChange(
            partner_id=o.partner_id,
            from_tier_id=o.tier_before_id,
            to_tier_id=o.tier_after_id,
            cause=o.cause,
            quarter=quarter,
            reason=text_stored(o.reason_message, o.reason_params) if o.reason_message else o.reason,
            reason_message=o.reason_message,
            reason_params=o.reason_params or {},
            changed_by=by,
            changed_at=at,
            version_id=o.version_id,
        )
        for o in outcomes
        if o.cause
    ]
    if changes:
        known = set(
            TierChange.objects.filter(
                quarter=quarter, partner_id__in=[c.partner_id for c in changes]
            ).values_list("partner_id", flat=True)
        )
        changes = [c for c in changes if c.partner_id not in known]
        TierChange.objects.bulk_create(changes, ignore_conflicts=True)
        signals.tier_changed.send(sender=TierChange, changes=changes)
    partners = Partner.objects.in_bulk([o.partner_id for o in outcomes])
    moved = defaultdict(list)  # (tier, status) → the partners moved there
    rescored = []
    for o in outcomes:
        partner = partners[o.partner_id]
        status = PartnerStatus.EXITED if o.exits else partner.status
        if partner.tier_id != o.tier_after_id or partner.status != status:
            partner.tier_id, partner.status = o.tier_after_id, status
            why = text_stored(o.reason_message, o.reason_params) if o.reason_message else o.reason
            partner._change_reason = (why or f"Quarter close {quarter}")[:100]
            moved[o.tier_after_id, status].append(partner)
        if partner.latest_score_quarter <= quarter and (
            partner.latest_score_quarter != quarter or partner.latest_score != o.score
        ):
            partner.latest_score, partner.latest_score_quarter = o.score, quarter
            rescored.append(partner)
    # Moves share a few (tier, status) pairs: one UPDATE each, not a CASE a partner.
    for (tier_id, status), group in moved.items():
        Partner.objects.filter(pk__in=[p.pk for p in group]).update(tier_id=tier_id, status=status)
    movers = [p for group in moved.values() for p in group]
    Partner.history.bulk_history_create(movers, default_user=by, default_date=at)
    if rescored:
        # Scores differ partner by partner: one UPDATE of CASEs (bulk_update); the quarter
        # is the same for all.
        Partner.objects.bulk_update(rescored, ["latest_score"])
        Partner.objects.filter(pk__in=[p.pk for p in rescored]).update(latest_score_quarter=quarter)
    return len(movers)


def red_flags_apply(
    *, as_of: date, partner_ids: Collection[int], wanted: set[tuple[int, str]]
) -> tuple[list[RedFlag], int]:
    """Make the open red flags of ``partner_ids`` exactly ``wanted`` (pairs of partner id
    and kind) as of ``as_of`` (RULEBOOK §8): resolve the others, open the missing ones,
    each new "no recent deal" flag with an outreach task for the partner's channel
    manager. Set-wise, in one transaction; at most one open flag per partner and kind
    (a constraint), so two runs at once open each once. Returns the flags opened, and how
    many were resolved."""
    now = timezone.now()
    scope = set(partner_ids)
    with transaction.atomic():
        open_now = {
            pair
            for pair in RedFlag.objects.filter(status=RedFlag.Status.OPEN).values_list(
                "partner_id", "kind"
            )
            if pair[0] in scope
        }
        to_resolve = open_now - wanted
        for kind in {kind for _, kind in to_resolve}:
            RedFlag.objects.filter(
                kind=kind,
                status=RedFlag.Status.OPEN,
                partner_id__in=[pid for pid, k in to_resolve if k == kind],
            ).update(status=RedFlag.Status.RESOLVED, resolved_at=now)
        to_open = sorted(wanted - open_now)
        RedFlag.objects.bulk_create(
            [
                RedFlag(partner_id=pid, kind=kind, details={"as_of": str(as_of)}, opened_at=now)
                for pid, kind in to_open
            ],
            ignore_conflicts=True,
        )
        opened = set(to_open)
        fresh = [
            flag
            for flag in RedFlag.objects.filter(status=RedFlag.Status.OPEN, opened_at=now).order_by(
                "pk"
            )
            if (flag.partner_id, flag.kind) in opened
        ]
        quiet = [flag for flag in fresh if flag.kind == RedFlagKind.NO_RECENT_DEAL]
        if quiet:
            about = Partner.objects.in_bulk([flag.partner_id for flag in quiet])
            days = dict(Program.objects.values_list("pk", "no_deal_days"))
            OutreachTask.objects.bulk_create(
                [
                    OutreachTask(
                        partner_id=flag.partner_id,
                        assignee_id=about[flag.partner_id].channel_manager_id,
                        red_flag=flag,
                        title=f"Reach out to {about[flag.partner_id].name}: no registration "
                        f"in {days[about[flag.partner_id].program_id]} days",
                        due_on=as_of + timedelta(days=7),
                        created_at=now,
                    )
                    for flag in quiet
                ],
                ignore_conflicts=True,
            )
        if fresh:
            signals.red_flags_opened.send(sender=RedFlag, flags=fresh)
    return fresh, len(to_resolve)


# ---------------------------------------------------------------- people


def _check_new_login(*, username: str, email: str) -> None:
    errors = {}
    if User.objects.filter(username__iexact=username).exists():
        errors["username"] = gettext("The username %(name)s is taken.") % {"name": repr(username)}
    if email and User.objects.filter(email__iexact=email).exists():
        errors["email"] = gettext("%(email)s already has a login.") % {"email": email}
    if errors:
        raise ValidationError(errors)


@audited
@transaction.atomic
def partner_user_create(
    *,
    partner: Partner,
    username: str,
    email: str,
    password: str | None,
    role: str = PartnerRole.REP,
    first_name: str = "",
    last_name: str = "",
    created_by: User | None = None,
) -> PartnerUser:
    """A login for one of the partner's people, with a password chosen now, or none
    (``None``: the person signs in through single sign-on, or sets one with a reset link)."""
    if role not in PartnerRole.values:
        raise ValidationError({"role": f"Role must be one of {', '.join(PartnerRole.values)}."})
    _check_new_login(username=username, email=email)
    user = User(
        username=username,
        email=email,
        first_name=first_name,
        last_name=last_name,
        role=Role.PARTNER,
    )
    if password is None:
        user.set_unusable_password()
    else:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from exc
        user.set_password(password)
    user.save()
    return PartnerUser.objects.create(user=user, partner=partner, role=role, invited_by=created_by)


@audited
@transaction.atomic
def partner_user_invite(
    *,
    partner: Partner,
    email: str,
    role: str = PartnerRole.REP,
    first_name: str = "",
    last_name: str = "",
    invited_by: User,
    base_url: str = "",
) -> PartnerUser:
    """Create the person's login without a password and e-mail a link to choose one.

    The link is allauth's password-reset link, so it expires like one and works once.
    """
    from allauth.account.forms import default_token_generator
    from allauth.account.utils import user_pk_to_url_str

    email = email.strip().lower()
    if role not in PartnerRole.values:
        raise ValidationError({"role": f"Role must be one of {', '.join(PartnerRole.values)}."})
    username = email
    _check_new_login(username=username, email=email)
    user = User(
        username=username,
        email=email,
        first_name=first_name,
        last_name=last_name,
        role=Role.PARTNER,
    )
    user.set_unusable_password()
    user.save()
    member = PartnerUser.objects.create(
        user=user, partner=partner, role=role, invited_by=invited_by
    )
    path = reverse(
        "account_reset_password_from_key",
        kwargs={
            "uidb36": user_pk_to_url_str(user),
            "key": default_token_generator.make_token(user),
        },
    )
    context = {
        "partner": partner,
        "member": member,
        "invited_by": invited_by,
        "link": base_url.rstrip("/") + path,
    }
    subject = gettext("You are invited to the %(program)s portal") % {
        "program": partner.program.name
    }
    body = render_to_string("partners/email/invitation.txt", context)
    mail_on_commit(subject, body, email, fail_silently=False)
    return member


@audited
@transaction.atomic
def partner_user_set_role(*, member: PartnerUser, role: str, changed_by: User) -> PartnerUser:
    if role not in PartnerRole.values:
        raise ValidationError({"role": f"Role must be one of {', '.join(PartnerRole.values)}."})
    if member.role == PartnerRole.ADMIN and role != PartnerRole.ADMIN:
        others = PartnerUser.objects.filter(
            partner=member.partner_id, role=PartnerRole.ADMIN, user__is_active=True
        ).exclude(pk=member.pk)
        if not others.exists():
            raise ValidationError({"role": "A partner keeps at least one active admin."})
    member.role = role
    member.save(update_fields=["role"])
    return member


@audited
@transaction.atomic
def partner_user_deactivate(*, member: PartnerUser, changed_by: User) -> PartnerUser:
    """Switch a person's login off (history and certifications stay)."""
    if member.user_id == changed_by.pk:
        raise ValidationError({"detail": "You cannot deactivate your own login."})
    User.objects.filter(pk=member.user_id).update(is_active=False)
    member.user.is_active = False
    user_tokens_revoke(user=member.user, reason="deactivated")
    return member


@transaction.atomic
def staff_user_create(
    *,
    username: str,
    email: str,
    password: str | None,
    role: str,
    first_name: str = "",
    last_name: str = "",
) -> User:
    """A login for the vendor's own staff (channel manager, chief, executive, admin), with a
    password, or none (``None``: the person signs in through the vendor's single sign-on)."""
    if role == Role.PARTNER or role not in Role.values:
        raise ValidationError({"role": "Staff users take a vendor role."})
    _check_new_login(username=username, email=email)
    user = User(
        username=username,
        email=email,
        first_name=first_name,
        last_name=last_name,
        role=role,
        is_staff=True,
        is_superuser=role == Role.ADMIN,
    )
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    user.save()
    return user


# ---------------------------------------------------------------- accounts and leads


def customer_domain_key(domain: str, *, field: str = "domain") -> str:
    """The registrable domain of what was typed for a customer (``""`` for nothing), or a
    ``ValidationError`` on ``field`` that says why it is not a domain (RULEBOOK §4)."""
    try:
        return registrable_domain(domain)
    except NotADomain as exc:
        raise ValidationError(
            {
                field: gettext("%(domain)s is not a domain: %(why)s.")
                % {"domain": repr((domain or "").strip()), "why": exc.args[0]}
            }
        ) from exc


def _account_clash(key: str, *, exclude_pk: int | None = None) -> None:
    clash = Account.objects.filter(domain_key=key, merged_into__isnull=True)
    if exclude_pk:
        clash = clash.exclude(pk=exclude_pk)
    if key and clash.exists():
        raise ValidationError({"domain": f"An account with the domain {key} already exists."})


def account_domain_check(domain: str, *, exclude_pk: int | None = None) -> str:
    """The registrable domain if it is a domain and no other account has it (for a form
    to say so before saving); else ``ValidationError`` on ``domain``."""
    key = customer_domain_key(domain)
    _account_clash(key, exclude_pk=exclude_pk)
    return key


@transaction.atomic
def account_create(
    *, name: str, domain: str = "", direct_rep: str = "", owning_partner: Partner | None = None
) -> Account:
    if not name.strip():
        raise ValidationError({"name": "An account needs a name."})
    _account_clash(customer_domain_key(domain))
    account = Account(
        name=name.strip(),
        domain=domain.strip(),
        direct_rep=direct_rep.strip().lower(),
        owning_partner=owning_partner,
    )
    account.full_clean(exclude=["name_key", "domain_key", "domain_skeleton", "name_skeleton"])
    try:
        account.save()
    except IntegrityError as exc:
        raise ValidationError({"domain": "An account with this domain already exists."}) from exc
    # Earlier CRM leads for this customer now belong to the account.
    Lead.objects.filter(account__isnull=True).filter(
        Q(domain_key=account.domain_key) if account.domain_key else Q(name_key=account.name_key)
    ).update(account=account)
    return account


def account_merge(*, account: Account, into: Account, reason: str) -> Account:
    """``account`` is ``into``'s customer under another spelling: it is kept, merged into
    ``into`` (so its spelling leads there next time), with its CRM leads and the accounts
    merged into it. The caller moves what higher apps keep on the account first. Returns
    the account merged into (``into``'s own if ``into`` was itself merged)."""
    into = Account.objects.select_for_update().get(pk=into.merged_into_id or into.pk)
    account = Account.objects.select_for_update().get(pk=account.pk)
    if account.pk == into.pk:
        return into
    Lead.objects.filter(account=account).update(account=into)
    Account.objects.filter(merged_into=account).update(merged_into=into)
    changed = []
    if not into.direct_rep and account.direct_rep:
        into.direct_rep = account.direct_rep
        changed.append("direct_rep")
    if into.owning_partner_id is None and account.owning_partner_id:
        into.owning_partner_id = account.owning_partner_id
        changed.append("owning_partner")
    if changed:
        into._change_reason = f"#{account.pk} {account.name} merged into it: {reason}"[:100]
        into.save(update_fields=changed)
    account.merged_into = into
    account._change_reason = f"Merged into #{into.pk}: {reason}"[:100]
    account.save()
    return into


def accounts_set_separate(*, account: Account, other: Account) -> None:
    """A manager judged two look-alike accounts to be two customers: the probable-same
    probe passes over the pair from now on."""
    account.separate_from.add(other)


ACCOUNT_EDITABLE = {"name", "domain", "direct_rep", "owning_partner"}


@transaction.atomic
def account_update(*, account: Account, **changes) -> Account:
    unknown = set(changes) - ACCOUNT_EDITABLE
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be changed here."))
    account = Account.objects.select_for_update().get(pk=account.pk)
    if "domain" in changes and changes["domain"]:
        _account_clash(customer_domain_key(changes["domain"]), exclude_pk=account.pk)
    for field, value in changes.items():
        if field == "direct_rep":
            value = (value or "").strip().lower()
        setattr(account, field, value)
    account.full_clean(exclude=["name_key", "domain_key", "domain_skeleton", "name_skeleton"])
    account.save()
    return account


LANGUAGE_CODE_SHAPE = re.compile(r"[a-z]{2,3}")


def lead_routing_problems(
    *, country: str = "", region: str = "", specialty: str = "", language: str = ""
) -> dict[str, str]:
    """What is wrong with a lead's routing facts, by field (empty: nothing; each may be
    left out). ``country``: an ISO 3166 code (DE); ``region``, ``specialty``: codes of
    ``Region`` and ``Specialty``; ``language``: an ISO 639 code (de)."""
    problems = {}
    if country and country.strip().upper() not in COUNTRY_CODES:
        problems["country"] = gettext("%(value)s is not an ISO country code (like DE or US).") % {
            "value": _shown(country)
        }
    if region and region not in Region.values:
        problems["region"] = gettext("%(value)s is not a region; use one of %(codes)s.") % {
            "value": _shown(region),
            "codes": ", ".join(Region.values),
        }
    if specialty and specialty.strip().lower() not in Specialty.values:
        problems["specialty"] = gettext("%(value)s is not a specialty; use one of %(codes)s.") % {
            "value": _shown(specialty),
            "codes": ", ".join(Specialty.values),
        }
    if language and not LANGUAGE_CODE_SHAPE.fullmatch(language.strip().lower()):
        problems["language"] = gettext("%(value)s is not a language code (like en or de).") % {
            "value": _shown(language)
        }
    return problems


@transaction.atomic
def lead_create(
    *,
    company_name: str,
    domain: str = "",
    source: str = "inbound",
    created_at: datetime | None = None,
    partner: Partner | None = None,
    country: str = "",
    region: str = "",
    specialty: str = "",
    language: str = "",
    route: bool = False,
) -> Lead:
    """Record a CRM lead and attach it to its account if one exists. Created with its
    ``partner`` (passed on by a manager, or chosen by the customer in the directory), the
    lead is that partner's, accepted: there is no offer to answer and no routing. Without
    one, ``route`` offers it at once by the routing rules (RULEBOOK §11)."""
    if not company_name.strip():
        raise ValidationError({"company_name": "A lead needs a company name."})
    customer_domain_key(domain)
    problems = lead_routing_problems(
        country=country, region=region, specialty=specialty, language=language
    )
    if problems:
        raise ValidationError(problems)
    lead = Lead(
        company_name=company_name.strip(),
        domain=domain.strip(),
        source=source,
        created_at=created_at or timezone.now(),
        partner=partner,
        account=account_matching(name=company_name, domain=domain),
        country=country.strip().upper(),
        region=region,
        specialty=specialty.strip().lower(),
        language=language.strip().lower(),
        **_passed_directly(partner, created_at or timezone.now()),
    )
    lead.full_clean(exclude=["name_key", "domain_key"])
    lead.save()
    if lead.partner_id:
        signals.lead_assigned.send(sender=Lead, leads=[lead])
    elif route:
        from .leads import lead_route  # the module imports this one

        lead = lead_route(lead=lead)
    return lead


def _passed_directly(partner: Partner | None, at: datetime) -> dict:
    """A lead's distribution fields when a manager (or the customer) picks its partner."""
    if partner is None:
        return {"status": LeadStatus.NEW, "accepted_at": None, "offer_expires_at": None}
    return {"status": LeadStatus.ACCEPTED, "accepted_at": at, "offer_expires_at": None}


LEAD_EDITABLE = {
    "company_name",
    "domain",
    "source",
    "created_at",
    "partner",
    "country",
    "region",
    "specialty",
    "language",
}


@transaction.atomic
def lead_update(*, lead: Lead, **changes) -> Lead:
    """Change a CRM lead; a new name or domain attaches it to the account that now matches.
    The caller has checked that the lead, and any partner it is passed to, are the user's
    to write (``queries.leads_writable_by``, ``queries.partners_writable_by``)."""
    unknown = set(changes) - LEAD_EDITABLE
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be changed here."))
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    passed_from = lead.partner_id
    if "company_name" in changes and not (changes["company_name"] or "").strip():
        raise ValidationError({"company_name": "A lead needs a company name."})
    if "domain" in changes:
        customer_domain_key(changes["domain"] or "")
    routing = {
        field: changes[field] or ""
        for field in ("country", "region", "specialty", "language")
        if field in changes
    }
    problems = lead_routing_problems(**routing)
    if problems:
        raise ValidationError(problems)
    for field, value in changes.items():
        if field == "country":
            value = (value or "").strip().upper()
        elif field in ("specialty", "language"):
            value = (value or "").strip().lower()
        if field in ("company_name", "domain"):
            value = (value or "").strip()
        setattr(lead, field, value)
    if {"company_name", "domain"} & set(changes):
        lead.account = account_matching(name=lead.company_name, domain=lead.domain)
    if lead.partner_id != passed_from:
        # Passed on directly (or taken back): a pending offer is withdrawn, and the new
        # partner holds the lead as accepted.
        now = timezone.now()
        lead.offers.filter(answer=LeadOffer.Answer.PENDING).update(
            answer=LeadOffer.Answer.WITHDRAWN, answered_at=now
        )
        for field, value in _passed_directly(lead.partner, now).items():
            setattr(lead, field, value)
    lead.full_clean(exclude=["name_key", "domain_key"])
    lead.save()
    if lead.partner_id and lead.partner_id != passed_from:
        signals.lead_assigned.send(sender=Lead, leads=[lead])
    return lead


# ---------------------------------------------------------------- outreach tasks


def outreach_tasks_done(*, tasks: QuerySet[OutreachTask], by: User) -> int:
    """Mark the open ones of ``tasks`` done, by ``by`` and now, in one statement; the
    caller scopes ``tasks`` to what ``by`` may act on. Returns how many were open."""
    return tasks.filter(status=OutreachTask.Status.OPEN).update(
        status=OutreachTask.Status.DONE, done_at=timezone.now(), done_by=by
    )


# ---------------------------------------------------------------- notices

# In their own module (partners.services.notices); named here too, where every caller
# has always imported them from.
from .notices import notice_send, notices_mark_read, notices_prune  # noqa: E402, F401

# ---------------------------------------------------------------- CRM lead import

LEAD_CSV_COLUMNS = ("company_name", "domain", "source", "created_at")
LEAD_CSV_KINDS = {"csv": UPLOAD_KINDS["csv"]}
LEAD_CSV_MAX_ROWS = 10_000
LEAD_CSV_MAX_ERRORS = 50
LEAD_FIELD_LENGTHS = {"company_name": 200, "domain": 255}


def _shown(value: str) -> str:
    """A value quoted in a message, cut short: the message names it, it does not echo it."""
    return repr(value if len(value) <= 40 else value[:40] + "…")


def _csv_problem(exc: csv.Error) -> str:
    text = str(exc)
    if "field larger than field limit" in text:
        return gettext("a value is longer than %(limit)s characters.") % {
            "limit": f"{csv.field_size_limit():,}"
        }
    if "unexpected end of data" in text or "EOF" in text:
        return gettext('a quoted value is never closed (a missing ").')
    return gettext("this line is not valid CSV (%(error)s).") % {"error": text}


def _lead_csv_rows(text: str, errors: list[str]):
    """(line, row) for each lead line of the CSV ``text``, the row a dict by column; each
    line that cannot be read is added to ``errors`` instead. Blank lines are skipped."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 1
    try:
        header_record = next(reader, None)
    except csv.Error as exc:
        errors.append(
            gettext("Line %(line)d: %(problem)s") % {"line": 1, "problem": _csv_problem(exc)}
        )
        return
    header = [name.strip().lower() for name in header_record or []]
    if not any(header):
        errors.append(
            gettext("Line 1: the file is empty; its first line must name the columns: %(columns)s.")
            % {"columns": ", ".join(LEAD_CSV_COLUMNS)}
        )
        return
    problems = _lead_csv_header_problems(header)
    if problems:
        errors.extend(gettext("Line 1: %(problem)s") % {"problem": p} for p in problems)
        return
    count = 0
    while True:
        line = reader.line_num + 1  # where the record starts (a quoted value may span lines)
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(
                gettext("Line %(line)d: %(problem)s") % {"line": line, "problem": _csv_problem(exc)}
            )
            continue
        if not any(value.strip() for value in record):
            continue
        count += 1
        if count > LEAD_CSV_MAX_ROWS:
            errors.append(
                gettext(
                    "Line %(line)d: a file holds at most %(max)s leads; split it and import "
                    "the parts."
                )
                % {"line": line, "max": f"{LEAD_CSV_MAX_ROWS:,}"}
            )
            return
        if len(record) != len(header):
            errors.append(
                gettext("Line %(line)d: %(found)d values for %(count)d columns (%(columns)s).")
                % {
                    "line": line,
                    "found": len(record),
                    "count": len(header),
                    "columns": ", ".join(header),
                }
            )
            continue
        if any("\x00" in value for value in record):
            errors.append(
                gettext(
                    "Line %(line)d: it holds a NUL character; is the file binary, or saved as "
                    "UTF-16? Save it as CSV (UTF-8)."
                )
                % {"line": line}
            )
            continue
        yield line, dict(zip(header, record, strict=True))


def _lead_csv_header_problems(header: list[str]) -> list[str]:
    """What is wrong with the columns the first line names: company_name missing, a column
    not known, or one named twice."""
    problems = []
    if "company_name" not in header:
        problems.append(
            gettext("the first line must name the columns: %(columns)s (company_name is required).")
            % {"columns": ", ".join(LEAD_CSV_COLUMNS)}
        )
    for name in dict.fromkeys(header):
        if name not in LEAD_CSV_COLUMNS:
            problems.append(
                gettext("the column %(name)s is not one of %(columns)s.")
                % {"name": _shown(name), "columns": ", ".join(LEAD_CSV_COLUMNS)}
            )
        elif header.count(name) > 1:
            problems.append(gettext("the column %(name)s appears twice.") % {"name": name})
    return problems


def _lead_created_at(raw: str, default_tz) -> datetime:
    """``raw`` as an aware datetime; ``ValueError`` with the reason."""
    from django.utils.dateparse import parse_date, parse_datetime

    try:
        moment = parse_datetime(raw)
        if moment is None and (day := parse_date(raw)) is not None:
            moment = datetime(day.year, day.month, day.day)
    except ValueError as exc:  # the right shape, not on the calendar: 2026-02-30
        raise ValueError(gettext("is not a real date or time")) from exc
    if moment is None:
        raise ValueError(gettext("is not a date like 2026-06-01"))
    try:
        return moment if timezone.is_aware(moment) else timezone.make_aware(moment, default_tz)
    except (ValueError, OverflowError) as exc:
        raise ValueError(gettext("is not a real date or time")) from exc


class _BadLeadLine(Exception):
    """A lead line that cannot be imported; the message says why, with its number."""


def _lead_from_row(line: int, row: dict, default_tz) -> tuple[int, str, str, str, datetime]:
    """One lead line's values: (line, company name, domain, source, created at);
    ``_BadLeadLine`` with the line's problem, in words, if it has one."""
    name = row.get("company_name", "").strip()
    domain = row.get("domain", "").strip()
    source = row.get("source", "").strip().lower() or "inbound"
    raw_when = row.get("created_at", "").strip()
    if not name:
        raise _BadLeadLine(gettext("Line %(line)d: company_name is empty.") % {"line": line})
    too_long = [
        gettext("%(column)s has %(length)s characters, at most %(max)d")
        % {"column": column, "length": f"{len(value):,}", "max": limit}
        for column, value, limit in (
            ("company_name", name, LEAD_FIELD_LENGTHS["company_name"]),
            ("domain", domain, LEAD_FIELD_LENGTHS["domain"]),
        )
        if len(value) > limit
    ]
    if too_long:
        raise _BadLeadLine(
            gettext("Line %(line)d: %(problems)s.")
            % {"line": line, "problems": "; ".join(too_long)}
        )
    try:
        registrable_domain(domain)
    except NotADomain as exc:
        raise _BadLeadLine(
            gettext("Line %(line)d: %(domain)s is not a domain: %(reason)s.")
            % {"line": line, "domain": _shown(domain), "reason": exc.args[0]}
        ) from exc
    if source not in LeadSource.values:
        raise _BadLeadLine(
            gettext("Line %(line)d: source %(source)s is not one of %(sources)s.")
            % {"line": line, "source": _shown(source), "sources": ", ".join(LeadSource.values)}
        )
    when = timezone.now()
    if raw_when:
        try:
            when = _lead_created_at(raw_when, default_tz)
        except ValueError as exc:
            raise _BadLeadLine(
                gettext("Line %(line)d: created_at %(value)s %(reason)s.")
                % {"line": line, "value": _shown(raw_when), "reason": exc.args[0]}
            ) from exc
    return line, name, domain, source, when


@transaction.atomic
def leads_import_csv(*, file) -> int:
    """Import CRM leads from a CSV file (Django ``File``; columns: company_name, domain,
    source, created_at), the same for every face that imports leads.

    All or nothing: any bad line raises ``ValidationError`` listing every problem with its
    line number (the first 50), and nothing is imported. The file is UTF-8 text, at most
    ``MAX_UPLOAD_BYTES`` and ``LEAD_CSV_MAX_ROWS`` leads. ``created_at`` is ISO 8601 (a date
    or a date and time; without a zone, the site's); empty means now. Returns the number
    imported.
    """
    text = csv_upload_text(file, default_name="leads.csv", kinds=LEAD_CSV_KINDS)
    errors: list[str] = []
    leads = []
    default_tz = timezone.get_current_timezone()
    for line, row in _lead_csv_rows(text, errors):
        try:
            leads.append(_lead_from_row(line, row, default_tz))
        except _BadLeadLine as exc:
            errors.append(exc.args[0])
    if not errors and not leads:
        errors.append(gettext("The file has no leads after its first line."))
    if not errors:
        for line, name, domain, source, when in leads:
            try:
                lead_create(company_name=name, domain=domain, source=source, created_at=when)
            except ValidationError as exc:
                errors.extend(
                    gettext("Line %(line)d: %(problem)s") % {"line": line, "problem": message}
                    for message in exc.messages
                )
    if errors:
        # Raised out of the transaction: a lead created before a late refusal is undone.
        more = len(errors) - LEAD_CSV_MAX_ERRORS
        raise ValidationError(
            errors[:LEAD_CSV_MAX_ERRORS]
            + ([gettext("… and %(count)d more.") % {"count": more}] if more > 0 else [])
        )
    return len(leads)


# ---------------------------------------------------------------- API tokens


@transaction.atomic
def api_token_issue(*, user: User, client: str = "") -> tuple[ApiToken, str]:
    """A new API token for ``user``: the row, and the token itself, which is stored nowhere
    (only its digest is) and is shown once.

    A named client's earlier token is replaced (signing in again from the same script or
    device leaves one token, not a pile); the user's expired tokens are swept; past
    ``API_TOKENS_PER_USER`` live tokens the oldest are revoked."""
    client = client.strip()[:100]
    mine = ApiToken.objects.filter(user=user)
    mine.filter(expiry__lt=timezone.now()).delete()
    if client:
        mine.filter(client=client).delete()
    token, key = ApiToken.objects.create(user=user, client=client)
    surplus = mine.order_by("-created", "-digest").values_list("digest", flat=True)[
        settings.API_TOKENS_PER_USER :
    ]
    ApiToken.objects.filter(digest__in=list(surplus)).delete()
    return token, key


@transaction.atomic
def api_tokens_revoke(*, tokens: QuerySet[ApiToken], by: User) -> int:
    """Revoke the given tokens (a user's own, from the portal or the API; any, from the
    admin, whose queryset is already scoped). Returns how many were live."""
    count, _ = tokens.delete()
    logger.info("%s revoked %d API token(s)", by.get_username(), count)
    return count


@transaction.atomic
def user_tokens_revoke(*, user: User, reason: str) -> int:
    """End every API token of ``user``: called when the password is changed, set or reset
    (partners.adapters, the admin's password form) and when the login is switched off
    (``partner_user_deactivate``, the admin's user form), so that a token taken with the
    old password, or by a person who has left, stops working at once."""
    count, _ = ApiToken.objects.filter(user=user).delete()
    if count:
        logger.info("Revoked %d API token(s) of %s: %s", count, user.get_username(), reason)
    return count


@dataclass
class SignInRefused(Exception):
    """A token request refused: ``code`` says why, for clients; ``retry_after`` (seconds)
    is set when the refusal is a lockout."""

    message: str
    code: str
    retry_after: int | None = None


def api_token_sign_in(
    *, request, username: str, password: str, code: str = "", client: str = ""
) -> tuple[ApiToken, str]:
    """Exchange a username and password (and, for an account with two-factor sign-in, a
    current code) for a new API token.

    The password goes through the portal's sign-in (the account adapter, so an inactive
    login is refused exactly like a wrong password) and axes, which counts failures per
    username and per address in the database and refuses everything while either is
    locked out. Staff must have two-factor sign-in set up to get a token at all.
    ``request`` is the HttpRequest (axes reads the address from it and marks a lockout)."""
    from allauth.account.adapter import get_adapter

    from prm.mfa import AuthenticateForm, has_totp, mfa_required
    from prm.throttles import retry_after_seconds, sign_in_locked_message

    def locked() -> SignInRefused:
        return SignInRefused(sign_in_locked_message(), "throttled", retry_after_seconds())

    try:
        user = get_adapter(request).authenticate(request, username=username, password=password)
    except ValidationError as exc:
        # The adapter refuses a right password with a reason (the organisation signs in
        # through its identity provider only): said as it says it.
        raise SignInRefused(" ".join(exc.messages), exc.error_list[0].code or "refused") from exc
    if getattr(request, "axes_locked_out", False):
        raise locked()
    if user is None:
        raise SignInRefused(
            gettext("Unable to sign in with the username and password given."),
            "invalid_credentials",
        )
    if has_totp(user):
        if not code:
            raise SignInRefused(
                gettext("This account signs in with a two-factor code: send it as `code`."),
                "mfa_required",
            )
        form = AuthenticateForm(user=user, data={"code": code})
        if not form.is_valid():
            if getattr(request, "axes_locked_out", False):
                raise locked()
            raise SignInRefused(gettext("The two-factor code is not correct."), "mfa_invalid")
        form.authenticator.record_usage()
    elif mfa_required(user):
        raise SignInRefused(
            gettext(
                "Staff accounts need two-factor authentication: set it up in the portal, "
                "then ask for a token with the current code."
            ),
            "mfa_setup_required",
        )
    return api_token_issue(user=user, client=client)
