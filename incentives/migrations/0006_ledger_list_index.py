from django.db import migrations, models


class Migration(migrations.Migration):
    """The ledger newest first (the admin's list, the API's keyset pages); SPIFFs paid in
    a quarter, and a quarter's entries with what the executive dashboard sums of them,
    read from the indexes alone; claims newest first (the API's list)."""

    dependencies = [
        ("incentives", "0005_money_fits_its_sums"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="ledgerentry",
            index=models.Index(fields=["earned_on", "id"], name="ledger_earned_id"),
        ),
        migrations.AddIndex(
            model_name="ledgerentry",
            index=models.Index(
                condition=models.Q(("kind", "spiff"), ("status", "paid")),
                fields=["paid_at"],
                include=("amount",),
                name="ledger_spiff_paid",
            ),
        ),
        migrations.RemoveIndex(model_name="ledgerentry", name="ledger_quarter_idx"),
        migrations.AddIndex(
            model_name="ledgerentry",
            index=models.Index(
                fields=["quarter"], include=("kind", "status", "amount"), name="ledger_quarter_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="incentiveclaim",
            index=models.Index(fields=["submitted_at", "id"], name="claim_submitted_id"),
        ),
    ]
