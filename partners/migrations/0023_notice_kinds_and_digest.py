"""The notices stored before each had a kind: it is read from where they link to (a
notice without a link about a channel conflict says so first). And the daily digest of
notices on Celery beat (editable afterwards in the admin)."""

from django.db import migrations
from django.db.models import Q

TASK = "partners.send_notice_digests"

# the start of a notice's link → its kind; the first that matches wins
KINDS_BY_LINK = [
    ("/portal/deals/", "deals"),
    ("/portal/claims/", "earnings"),
    ("/portal/earnings/", "earnings"),
    ("/portal/mdf/", "mdf"),
    ("/portal/certifications/", "enablement"),
    ("/portal/onboarding/", "enablement"),
    ("/portal/qbrs/", "reviews"),
    ("/portal/webhooks/", "integrations"),
    ("/portal/leads/", "leads"),
]


def kinds_forward(apps, schema_editor):
    Notice = apps.get_model("partners", "Notice")
    for prefix, kind in KINDS_BY_LINK:
        Notice.objects.filter(kind="general", link__startswith=prefix).update(kind=kind)
    Notice.objects.filter(Q(kind="general"), text__startswith="Channel conflict").update(
        kind="conflicts"
    )


def schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    morning, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="6", day_of_week="*", day_of_month="*", month_of_year="*"
    )
    PeriodicTask.objects.get_or_create(
        name="Send the daily digest of notices", defaults={"task": TASK, "crontab": morning}
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0022_notification_centre"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [
        migrations.RunPython(kinds_forward, migrations.RunPython.noop),
        migrations.RunPython(schedule, unschedule),
    ]
