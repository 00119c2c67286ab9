"""Install the default program of RULEBOOK §1 (preset seed001) on a fresh database."""

from django.db import migrations


def install(apps, schema_editor):
    from partners.presets import PRESETS

    Program = apps.get_model("partners", "Program")
    Tier = apps.get_model("partners", "Tier")
    data = PRESETS["seed001"]
    fields = dict(data["program"])
    slug = fields.pop("slug")
    program, created = Program.objects.get_or_create(slug=slug, defaults=fields)
    if not Program.objects.filter(is_default=True).exists():
        program.is_default = True
        program.save(update_fields=["is_default"])
    # Fields the presets gained later are set by the migrations that add them.
    known = {field.name for field in Tier._meta.get_fields()}
    for tier in data["tiers"]:
        tier = {key: value for key, value in tier.items() if key in known}
        Tier.objects.get_or_create(program=program, slug=tier.pop("slug"), defaults=tier)


class Migration(migrations.Migration):
    dependencies = [("partners", "0001_initial")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
