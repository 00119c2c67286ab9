# The customer's identity by registrable domain and the skeletons that find a probable
# same customer (RULEBOOK §4). The unique keys are dropped here and added back, on the
# recomputed keys, by 0016, once deals/0011 has recomputed and merged the accounts.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0014_page_stamp_triggers"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="account", name="account_domain_unique"),
        migrations.RemoveConstraint(model_name="account", name="account_name_unique_no_domain"),
        migrations.AddField(
            model_name="account",
            name="domain_skeleton",
            field=models.CharField(blank=True, editable=False, max_length=255),
        ),
        migrations.AddField(
            model_name="account",
            name="name_skeleton",
            field=models.CharField(blank=True, editable=False, max_length=200),
        ),
        migrations.AddField(
            model_name="account",
            name="merged_into",
            field=models.ForeignKey(
                blank=True,
                help_text="The account this one was found to be: registrations of it go there.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="aliases",
                to="partners.account",
            ),
        ),
        migrations.AddField(
            model_name="account",
            name="separate_from",
            field=models.ManyToManyField(
                blank=True,
                help_text="Accounts a manager judged to be other customers, though they look alike.",
                to="partners.account",
            ),
        ),
        migrations.AddField(
            model_name="historicalaccount",
            name="merged_into",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                help_text="The account this one was found to be: registrations of it go there.",
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="partners.account",
            ),
        ),
    ]
