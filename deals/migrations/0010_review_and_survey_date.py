# Registrations held for a manager as a probable same customer, and the date a CSAT was
# given (RULEBOOK §4). Earlier answers are dated on their deal's close date, the default.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import F
from django.db.models.functions import Cast, Coalesce

REASONS = [
    ("same_name", "The same company name under another domain"),
    ("other_suffix", "The same domain name under another ending"),
    ("confusable", "A name or domain that differs only by look-alike characters"),
    ("regional_suffix", "The same name but for a regional or group suffix"),
    ("same_domain", "The same registrable domain (found when keys were updated)"),
]
SURVEYED_HELP = "When the customer answered the survey: the CSAT counts in that quarter."


def date_earlier_answers(apps, schema_editor):
    Deal = apps.get_model("deals", "Deal")
    Deal.objects.filter(csat__isnull=False, csat_surveyed_on__isnull=True).update(
        csat_surveyed_on=Coalesce(
            F("closed_on"), Cast(F("csat_recorded_at"), models.DateField()), F("expected_close")
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("deals", "0009_page_stamp_triggers"),
        ("incentives", "0004_close_indexes"),
        ("partners", "0015_account_identity"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="deal",
            name="csat_surveyed_on",
            field=models.DateField(blank=True, help_text=SURVEYED_HELP, null=True),
        ),
        migrations.AddField(
            model_name="deal",
            name="needs_review",
            field=models.BooleanField(
                default=False,
                help_text="Held for a manager: probably a customer another partner holds.",
            ),
        ),
        migrations.AddField(
            model_name="deal",
            name="review_match",
            field=models.ForeignKey(
                blank=True,
                help_text="The other partner's open registration this one probably duplicates.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="deals.deal",
            ),
        ),
        migrations.AddField(
            model_name="deal",
            name="review_reason",
            field=models.CharField(blank=True, choices=REASONS, max_length=20),
        ),
        migrations.AddField(
            model_name="historicaldeal",
            name="csat_surveyed_on",
            field=models.DateField(blank=True, help_text=SURVEYED_HELP, null=True),
        ),
        migrations.AddField(
            model_name="historicaldeal",
            name="needs_review",
            field=models.BooleanField(
                default=False,
                help_text="Held for a manager: probably a customer another partner holds.",
            ),
        ),
        migrations.AddField(
            model_name="historicaldeal",
            name="review_match",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                help_text="The other partner's open registration this one probably duplicates.",
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="deals.deal",
            ),
        ),
        migrations.AddField(
            model_name="historicaldeal",
            name="review_reason",
            field=models.CharField(blank=True, choices=REASONS, max_length=20),
        ),
        migrations.RunPython(date_earlier_answers, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="deal",
            index=models.Index(
                condition=models.Q(("needs_review", True)),
                fields=["submitted_at"],
                name="deal_review_queue",
            ),
        ),
        migrations.AddConstraint(
            model_name="deal",
            constraint=models.CheckConstraint(
                condition=models.Q(("needs_review", False), ("status", "pending"), _connector="OR"),
                name="only_pending_deal_needs_review",
            ),
        ),
        migrations.AddConstraint(
            model_name="deal",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("csat__isnull", True), ("csat_surveyed_on__isnull", False), _connector="OR"
                ),
                name="deal_csat_has_survey_date",
            ),
        ),
    ]
