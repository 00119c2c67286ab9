"""The certifications the default curriculum names: demo and solo demo (RULEBOOK §10)."""

from django.db import migrations

TYPES = [
    ("demo", "Demo certification", "Passed the product demo assessment (weeks 1–2 of onboarding)."),
    (
        "solo-demo",
        "Solo demo certification",
        "Runs a customer demo alone (months 2–3 of onboarding).",
    ),
]


def install(apps, schema_editor):
    CertificationType = apps.get_model("enablement", "CertificationType")
    for slug, name, description in TYPES:
        CertificationType.objects.get_or_create(
            slug=slug, defaults={"name": name, "description": description, "validity_months": 24}
        )


class Migration(migrations.Migration):
    dependencies = [("enablement", "0002_initial")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
