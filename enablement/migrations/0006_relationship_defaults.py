"""Install RULEBOOK §10's defaults for every program: curriculum, playbook, profile, target."""

from django.db import migrations

NAMES = [
    "CertificationType",
    "Milestone",
    "CoMarketingActivity",
    "ProfileCriterion",
    "RecruitmentTarget",
]


def install(apps, schema_editor):
    from enablement.presets import install as install_defaults

    models = {name: apps.get_model("enablement", name) for name in NAMES}
    for program in apps.get_model("partners", "Program").objects.all():
        install_defaults(program, models)


class Migration(migrations.Migration):
    dependencies = [("enablement", "0005_certification_reminded_at_and_more")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
