"""Program versions (RULEBOOK §12): which version decides a quarter, and the drafts a
channel chief copies, edits and publishes.

How the live program and the versions relate. The first close of a quarter decides under
the version effective for it, brought up to date with the live program's numbers first:
in place while nothing has been decided under that version, else as a new version
effective from that quarter, so no decision already taken changes. A won deal or a
contribution in a quarter still open earns by the same version the same way, so an edit
of the live program's SPIFFs counts from the next win. A published draft takes over
instead: wins in its quarter earn by it, and its first close decides under it and writes
its numbers into the live program. A quarter already closed is decided (rerun, or a late
win) under the version it was closed under, as it was.
"""

from collections import defaultdict
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext

from prm.audit import audited
from prm.quarters import Quarter
from prm.roles import Role, role_of

from ..models import Program, ProgramVersion, RebateBracket, User
from ..version_rules import (
    AWARD_FIELDS,
    INCENTIVE_FIELDS,
    INCENTIVE_RATES,
    SCORING_FIELDS,
    TIER_FIELDS,
    TIER_RULE_FIELDS,
    WHOLE,
    rules_equal,
    rules_snapshot,
)

VERSION_ROLES = frozenset({Role.CHANNEL_CHIEF, Role.ADMIN})

Status = ProgramVersion.Status
Origin = ProgramVersion.Origin


def may_edit_versions(user) -> bool:
    """Channel chiefs and admins copy, edit, try and publish program versions."""
    return role_of(user) in VERSION_ROLES


def _require(user) -> None:
    if not may_edit_versions(user):
        raise PermissionDenied(gettext("Only a channel chief or an admin may change versions."))


def live_rules(program: Program) -> dict:
    """The live program's rules as a version snapshot."""
    return rules_snapshot(program, program.tiers.all(), program.rebate_brackets.all())


def last_closed_quarter(program: Program) -> str:
    """The latest quarter a close decided under one of the program's versions ('' if none)."""
    return program.versions.aggregate(last=Max("last_used_quarter"))["last"] or ""


def _effective(versions: list[ProgramVersion], label: str) -> ProgramVersion | None:
    published = sorted(
        (v for v in versions if v.status == Status.PUBLISHED),
        # Of those effective from one quarter, a published draft (only one may be) takes
        # over from the versions recorded from the live program; then the later number.
        key=lambda v: (v.effective_from, v.origin == Origin.DRAFT, v.number),
    )
    chosen = None
    for version in published:
        if version.effective_from <= label:
            chosen = version
    # A quarter before the first version's: the first version decides it.
    return chosen or (published[0] if published else None)


def program_versions_for(programs, label: str) -> dict[int, ProgramVersion | None]:
    """The version that decides ``label`` for each of ``programs`` (the latest published
    one effective from that quarter or before), as it stands; None for a program with no
    version yet."""
    programs = list(programs)
    found: dict[int, list[ProgramVersion]] = defaultdict(list)
    for version in ProgramVersion.objects.filter(program__in=programs, status=Status.PUBLISHED):
        found[version.program_id].append(version)
    return {program.pk: _effective(found[program.pk], label) for program in programs}


def program_versions_for_close(programs, label: str) -> dict[int, ProgramVersion]:
    """The version each of ``programs`` decides the close of ``label`` under (the module's
    docstring says how it relates to the live program). Each is marked used for ``label``:
    it never changes from now on."""
    chosen = {}
    for program in programs:
        with transaction.atomic():
            Program.objects.select_for_update().get(pk=program.pk)
            chosen[program.pk] = _version_for_close(program, label)
    ProgramVersion.objects.filter(
        pk__in=[v.pk for v in chosen.values()], last_used_quarter__lt=label
    ).update(last_used_quarter=label)
    for version in chosen.values():
        version.last_used_quarter = max(version.last_used_quarter, label)
    return chosen


def _version_for_close(program: Program, label: str) -> ProgramVersion:
    return _version_deciding(program, label, close=True)


def _version_deciding(
    program: Program, label: str, *, close: bool, write: bool = True
) -> ProgramVersion | None:
    """The version that decides ``label``'s close (``close``) or an event in ``label``,
    made or brought up to date first as the module's docstring says. With ``write``
    false, nothing is written: None when something would have to be."""
    versions = list(program.versions.all())
    last = max((v.last_used_quarter for v in versions), default="")
    version = _effective(versions, label)
    if version is None:
        if not write:
            return None
        return _new_version(program, label, live_rules(program), note=FIRST_NOTE)
    if version.effective_from > label and not (last and label <= last):
        # A quarter before the first version's, none closed yet: the first version decides
        # it, and takes effect from it.
        if not write:
            return None
        version.effective_from = label
        version.save(update_fields=["effective_from"])
    if last and label <= last:
        return version  # closed before, or older than the latest close: as it was decided
    if version.origin == Origin.DRAFT and not version.last_used_quarter:
        if close:
            if not write:
                return None
            _apply_to_live(program, version.rules)
        return version
    live = live_rules(program)
    if rules_equal(version.rules, live):
        return version
    if not write:
        return None
    if not version.last_used_quarter and not version.decided_entries:
        version.rules = live
        version.save(update_fields=["rules"])
        return version
    return _new_version(program, label, live, note="Edited on the live program.")


def program_version_for_entries(program: Program, label: str) -> ProgramVersion:
    """The version a won deal or a contribution in quarter ``label`` earns by (the
    module's docstring says which), marked as having decided ledger entries: it never
    changes from now on. Locks the program only when a version is made or changed, or
    first marked; a version already marked is read and returned as it is."""
    version = _version_deciding(program, label, close=False, write=False)
    if version is not None and version.decided_entries:
        return version
    with transaction.atomic():
        program = Program.objects.select_for_update().get(pk=program.pk)
        version = _version_deciding(program, label, close=False)
        if not version.decided_entries:
            ProgramVersion.objects.filter(pk=version.pk).update(decided_entries=True)
            version.decided_entries = True
    return version


FIRST_NOTE = "The program's rules when versions began."


def _new_version(program: Program, label: str, rules: dict, *, note: str) -> ProgramVersion:
    return ProgramVersion.objects.create(
        program=program,
        number=_next_number(program),
        status=Status.PUBLISHED,
        origin=Origin.LIVE,
        effective_from=label,
        rules=rules,
        note=note,
        published_at=timezone.now(),
    )


def _apply_to_live(program: Program, rules: dict) -> None:
    """Write a version's numbers into the live program, its tiers and its rebate table."""
    for name, value in (*rules["scoring"].items(), *rules["tier_rules"].items()):
        setattr(program, name, value)
    for key, name in AWARD_FIELDS.items():
        setattr(program, name, rules["awards"][key])
    for name, value in rules["incentives"].items():
        setattr(program, name, value)
    program._change_reason = "A published program version takes effect"
    program.save()
    program.refresh_from_db()  # the numbers as the database keeps them (decimals, not text)
    for tier in program.tiers.all():
        numbers = rules["tiers"].get(str(tier.pk))
        if numbers is None:
            continue
        for name in TIER_FIELDS:
            setattr(tier, name, numbers[name])
        tier.save()
    program.rebate_brackets.all().delete()
    RebateBracket.objects.bulk_create(
        RebateBracket(program=program, revenue_from=start, rate=rate, fast_track=fast)
        for start, rate, fast in rules["rebate_brackets"]
    )


def _next_number(program: Program) -> int:
    return (program.versions.aggregate(top=Max("number"))["top"] or 0) + 1


@audited
@transaction.atomic
def version_copy_to_draft(*, program: Program, by: User) -> ProgramVersion:
    """A new draft: a copy of the live program's rules, to edit and try."""
    _require(by)
    Program.objects.select_for_update().get(pk=program.pk)
    return ProgramVersion.objects.create(
        program=program,
        number=_next_number(program),
        status=Status.DRAFT,
        origin=Origin.DRAFT,
        rules=live_rules(program),
        note=gettext("Copy of the live program."),
        created_by=by,
    )


def _locked_draft(version: ProgramVersion) -> ProgramVersion:
    version = (
        ProgramVersion.objects.select_for_update().select_related("program").get(pk=version.pk)
    )
    if not version.is_draft:
        raise ValidationError(
            gettext("Version %(number)s is published: only a draft can be changed.")
            % {"number": version.number},
            code="not_draft",
        )
    return version


def _number(value, name: str, *, whole: bool) -> int | str:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError(
            gettext("%(field)s: %(value)s is not a number.") % {"field": name, "value": value},
            code="not_number",
        ) from None
    if not number.is_finite() or number < 0 or number > Decimal("1000000000000"):
        raise ValidationError(
            gettext("%(field)s must be a number from 0 up.") % {"field": name},
            code="out_of_range",
        )
    if whole:
        if number != number.to_integral_value():
            raise ValidationError(
                gettext("%(field)s must be a whole number.") % {"field": name},
                code="not_whole",
            )
        return int(number)
    return str(number.quantize(Decimal("0.0001")).normalize())


def rules_checked(rules: dict) -> dict:
    """``rules`` with every number checked and written as the snapshot writes it;
    ``ValidationError`` saying which one is wrong, or which rules do not fit together."""
    try:
        checked = {
            "scoring": {
                name: _number(rules["scoring"][name], name, whole=name in WHOLE)
                for name in SCORING_FIELDS
            },
            "tier_rules": {
                name: _number(rules["tier_rules"][name], name, whole=name in WHOLE)
                for name in TIER_RULE_FIELDS
            },
            "tiers": {
                str(pk): {
                    "slug": tier["slug"],
                    "name": tier["name"],
                    "rank": int(tier["rank"]),
                    **{
                        name: _number(tier[name], f"{tier['name']}: {name}", whole=name in WHOLE)
                        for name in TIER_FIELDS
                    },
                }
                for pk, tier in rules["tiers"].items()
            },
            "rebate_brackets": [
                [
                    _number(start, "rebate_brackets", whole=False),
                    _number(rate, "rebate_brackets", whole=False),
                    bool(fast),
                ]
                for start, rate, fast in rules["rebate_brackets"]
            ],
            "awards": {
                key: _number(rules["awards"][key], key, whole=False) for key in AWARD_FIELDS
            },
            "incentives": {
                name: _number(rules["incentives"][name], name, whole=name in WHOLE)
                for name in INCENTIVE_FIELDS
            },
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationError(
            gettext("The rules are incomplete: %(missing)s.") % {"missing": exc},
            code="incomplete",
        ) from None
    scoring = checked["scoring"]
    points = sum(Decimal(scoring[name]) for name in SCORING_FIELDS if name.endswith("_points"))
    if points > 100:
        raise ValidationError(
            gettext("The scorecard's points add up to %(points)s; at most 100.")
            % {"points": points},
            code="points_over_100",
        )
    bands = [Decimal(scoring[f"band_{b}_from"]) for b in ("maintain", "grow", "invest")]
    if bands != sorted(bands):
        raise ValidationError(
            gettext("The bands must start in order: maintain, then grow, then invest."),
            code="bands_out_of_order",
        )
    if any(Decimal(checked["incentives"][name]) > 1 for name in INCENTIVE_RATES):
        raise ValidationError(
            gettext("A SPIFF or bonus rate is a share of the deal: at most 1 (100%)."),
            code="rate_over_1",
        )
    if any(Decimal(rate) > 1 for _, rate, _ in checked["rebate_brackets"]):
        raise ValidationError(
            gettext("A rebate rate is a share of revenue: at most 1 (100%)."), code="rate_over_1"
        )
    return checked


@audited
@transaction.atomic
def version_update_draft(
    *, version: ProgramVersion, rules: dict, by: User, note: str | None = None
) -> ProgramVersion:
    """Replace a draft's rules (checked) and, if given, its note. Its tiers stay those of
    the program: a draft changes their numbers, not which tiers there are."""
    _require(by)
    version = _locked_draft(version)
    checked = rules_checked(rules)
    if set(checked["tiers"]) != set(version.rules["tiers"]):
        raise ValidationError(
            gettext("A draft keeps the program's tiers; only their numbers change."),
            code="tiers_changed",
        )
    version.rules = checked
    fields = ["rules"]
    if note is not None:
        version.note = note[:300]
        fields.append("note")
    version.save(update_fields=fields)
    return version


@audited
@transaction.atomic
def version_publish(*, version: ProgramVersion, effective_from: str, by: User) -> ProgramVersion:
    """Publish a draft as the version that decides every close, and what wins and
    contributions earn, from ``effective_from``, a quarter not yet closed (and not yet
    ended), until a later published version."""
    _require(by)
    version = _locked_draft(version)
    try:
        quarter = Quarter.parse(effective_from)
    except ValueError as exc:
        raise ValidationError(str(exc), code="not_quarter") from None
    last = last_closed_quarter(version.program)
    if (last and quarter.label <= last) or quarter.end < timezone.localdate():
        raise ValidationError(
            gettext(
                "%(quarter)s has ended or been closed; a version takes effect from a quarter "
                "still to close (after %(last)s)."
            )
            % {
                "quarter": quarter.label,
                "last": last or Quarter.containing(timezone.localdate()).previous().label,
            },
            code="quarter_closed",
        )
    if version.program.versions.filter(
        status=Status.PUBLISHED, origin=Origin.DRAFT, effective_from=quarter.label
    ).exists():
        raise ValidationError(
            gettext("Another version already takes effect from %(quarter)s.")
            % {"quarter": quarter.label},
            code="quarter_taken",
        )
    version.status = Status.PUBLISHED
    version.effective_from = quarter.label
    version.published_by, version.published_at = by, timezone.now()
    try:
        with transaction.atomic():
            version.save(update_fields=["status", "effective_from", "published_by", "published_at"])
    except IntegrityError:
        raise ValidationError(
            gettext("Another version already takes effect from %(quarter)s.")
            % {"quarter": quarter.label},
            code="quarter_taken",
        ) from None
    return version
