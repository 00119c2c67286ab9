# One canonical account per registrable domain (or, without one, per name); merged
# accounts keep their keys and point at the one they were found to be.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0015_account_identity"),
        ("deals", "0011_account_keys"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="account",
            index=models.Index(
                condition=models.Q(("domain_key", ""), _negated=True),
                fields=["domain_key"],
                name="account_domain_key_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="account",
            index=models.Index(fields=["domain_skeleton"], name="account_domain_skeleton_idx"),
        ),
        migrations.AddIndex(
            model_name="account",
            index=models.Index(fields=["name_skeleton"], name="account_name_skeleton_idx"),
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.UniqueConstraint(
                condition=models.Q(
                    models.Q(("domain_key", ""), _negated=True), ("merged_into__isnull", True)
                ),
                fields=("domain_key",),
                name="account_domain_unique",
            ),
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.UniqueConstraint(
                condition=models.Q(("domain_key", ""), ("merged_into__isnull", True)),
                fields=("name_key",),
                name="account_name_unique_no_domain",
            ),
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.CheckConstraint(
                condition=models.Q(("merged_into", models.F("pk")), _negated=True),
                name="account_not_merged_into_itself",
            ),
        ),
    ]
