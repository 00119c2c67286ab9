"""Give every installed program the volume rebate table of its preset (RULEBOOK §6)."""

from django.db import migrations


def install(apps, schema_editor):
    from partners.presets import PRESETS

    Program = apps.get_model("partners", "Program")
    RebateBracket = apps.get_model("partners", "RebateBracket")
    for program in Program.objects.all():
        preset = PRESETS.get(program.slug) or PRESETS["seed001"]
        for bracket in preset.get("rebate_brackets", []):
            bracket = dict(bracket)
            RebateBracket.objects.get_or_create(
                program=program, revenue_from=bracket.pop("revenue_from"), defaults=bracket
            )


class Migration(migrations.Migration):
    dependencies = [("partners", "0005_program_incentives")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
