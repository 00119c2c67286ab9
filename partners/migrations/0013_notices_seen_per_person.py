"""Each person reads their partner's notices for themselves: a watermark on their
membership (``notices_seen_at``) instead of one ``read_at`` on the notice for everyone.

A person's watermark starts at the latest moment a notice they could see was marked read,
so nobody sees old notices as new again (notices were always marked read all at once).
"""

from django.db import migrations, models
from django.db.models import Max, OuterRef, Q, Subquery


def carry_reads_over(apps, schema_editor):
    Notice = apps.get_model("partners", "Notice")
    PartnerUser = apps.get_model("partners", "PartnerUser")
    latest = (
        Notice.objects.filter(partner_id=OuterRef("partner_id"), read_at__isnull=False)
        .filter(Q(user__isnull=True) | Q(user_id=OuterRef("user_id")))
        .values("partner_id")
        .annotate(seen=Max("read_at"))
        .values("seen")
    )
    PartnerUser.objects.update(notices_seen_at=Subquery(latest[:1]))


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0012_program_history"),
    ]

    operations = [
        migrations.AddField(
            model_name="partneruser",
            name="notices_seen_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(carry_reads_over, migrations.RunPython.noop),
        migrations.RemoveIndex(
            model_name="notice",
            name="partners_no_partner_21f224_idx",
        ),
        migrations.RemoveField(
            model_name="notice",
            name="read_at",
        ),
        migrations.AddIndex(
            model_name="notice",
            index=models.Index(fields=["partner", "created_at"], name="notice_partner_created"),
        ),
    ]
