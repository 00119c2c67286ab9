from django.db import migrations, models


class Migration(migrations.Migration):
    """The unread badge's index: a partner's notices for everyone (user NULL) and one
    person's, each a range by date (partners.queries.unread_notice_count); and the
    accounts by name (the admin's and the API's lists)."""

    dependencies = [
        ("partners", "0020_retire_drf_tokens"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="notice",
            index=models.Index(
                fields=["partner", "user", "created_at"], name="notice_partner_user_created"
            ),
        ),
        migrations.AddIndex(
            model_name="account",
            index=models.Index(fields=["name"], name="account_name_idx"),
        ),
    ]
