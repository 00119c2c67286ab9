"""The quarter's QBRs on Celery beat: the first day of each quarter at 03:00, after the close."""

from django.db import migrations


def install(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    quarterly, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="3", day_of_month="1", month_of_year="1,4,7,10", day_of_week="*"
    )
    PeriodicTask.objects.get_or_create(
        name="Schedule the quarter's QBRs",
        defaults={"task": "scoring.schedule_qbrs", "crontab": quarterly},
    )


def remove(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task="scoring.schedule_qbrs").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0005_qbr"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(install, remove)]
