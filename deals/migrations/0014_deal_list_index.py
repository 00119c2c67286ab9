from django.db import migrations, models


class Migration(migrations.Migration):
    """Every registration newest first (the admin's list, the API's keyset pages), read
    backwards a page at a time instead of sorting the table; and wins by close date."""

    dependencies = [
        ("deals", "0013_drop_page_stamp_triggers"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="deal",
            index=models.Index(fields=["submitted_at", "id"], name="deal_submitted_id"),
        ),
        migrations.AddIndex(
            model_name="deal",
            index=models.Index(
                condition=models.Q(("partner_credit__isnull", False), ("status", "won")),
                fields=["closed_on"],
                include=("partner_credit",),
                name="deal_won_closed",
            ),
        ),
    ]
