"""Every program's first version, from its rules as they stand (RULEBOOK §12), and the
scorecards, tier changes and quarter-close ledger entries already stored pointed at it."""

from django.db import migrations
from django.db.models import Max, Min
from django.utils import timezone

from partners.version_rules import rules_snapshot
from prm.quarters import Quarter


def first_versions(apps, schema_editor):
    Program = apps.get_model("partners", "Program")
    ProgramVersion = apps.get_model("partners", "ProgramVersion")
    TierChange = apps.get_model("partners", "TierChange")
    Scorecard = apps.get_model("scoring", "Scorecard")
    LedgerEntry = apps.get_model("incentives", "LedgerEntry")
    for program in Program.objects.all():
        if ProgramVersion.objects.filter(program=program).exists():
            continue
        cards = Scorecard.objects.filter(partner__program=program)
        span = cards.aggregate(first=Min("quarter"), last=Max("quarter"))
        first = (
            span["first"] or Quarter.containing(timezone.localtime(program.created_at).date()).label
        )
        version = ProgramVersion.objects.create(
            program=program,
            number=1,
            status="published",
            origin="live",
            effective_from=first,
            rules=rules_snapshot(
                program,
                program.tiers.all(),
                program.rebate_brackets.all(),
            ),
            note="The program's rules when versions began.",
            last_used_quarter=span["last"] or "",
            published_at=timezone.now(),
        )
        cards.update(version=version)
        TierChange.objects.filter(partner__program=program).exclude(quarter="").exclude(
            cause="override"
        ).update(version=version)
        LedgerEntry.objects.filter(partner__program=program, kind__in=("rebate", "award")).update(
            version=version
        )


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0010_scorecard_version"),
        ("partners", "0027_program_versions"),
        ("incentives", "0008_ledger_version"),
    ]

    operations = [migrations.RunPython(first_versions, migrations.RunPython.noop)]
