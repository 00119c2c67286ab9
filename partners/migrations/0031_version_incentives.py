"""Versions snapshot the incentive amounts too (SPIFFs, deal bonuses, contribution
bonuses), and may share a quarter when recorded from the live program.

Versions made before kept no incentive amounts: each gets its program's amounts as they
stand, the only record of them there is (wins were paid from the live program until now).
"""

from decimal import Decimal

from django.db import migrations, models

# As ``partners.version_rules.INCENTIVE_FIELDS`` named them when this was written.
FIELDS = (
    "spiff_new_logo",
    "spiff_new_logo_days",
    "spiff_strategic",
    "spiff_first_deal",
    "spiff_large_deal_over",
    "spiff_large_deal_rate",
    "bonus_cross_sell_rate",
    "bonus_upsell_rate",
    "bonus_multi_year_rate",
    "bonus_reference",
    "bonus_community",
)


def _plain(name, value):
    return int(value) if name == "spiff_new_logo_days" else str(Decimal(value))


def add_incentives(apps, schema_editor):
    ProgramVersion = apps.get_model("partners", "ProgramVersion")
    for version in ProgramVersion.objects.select_related("program"):
        if "incentives" in version.rules:
            continue
        version.rules["incentives"] = {
            name: _plain(name, getattr(version.program, name)) for name in FIELDS
        }
        version.save(update_fields=["rules"])


def drop_incentives(apps, schema_editor):
    ProgramVersion = apps.get_model("partners", "ProgramVersion")
    for version in ProgramVersion.objects.all():
        if version.rules.pop("incentives", None) is not None:
            version.save(update_fields=["rules"])


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0030_merge_20261206_1928"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="programversion",
            name="one_published_version_per_quarter",
        ),
        migrations.AddField(
            model_name="programversion",
            name="decided_entries",
            field=models.BooleanField(
                default=False,
                editable=False,
                help_text="Ledger entries of won deals or contributions were decided under it.",
            ),
        ),
        migrations.AddConstraint(
            model_name="programversion",
            constraint=models.UniqueConstraint(
                condition=models.Q(("origin", "draft"), ("status", "published")),
                fields=("program", "effective_from"),
                name="one_published_draft_per_quarter",
            ),
        ),
        migrations.RunPython(add_incentives, drop_incentives),
    ]
