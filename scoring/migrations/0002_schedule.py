"""The quarter close (1st day of each quarter, 02:00) and the daily red-flag refresh."""

from django.db import migrations


def install(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    quarterly, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="2", day_of_month="1", month_of_year="1,4,7,10", day_of_week="*"
    )
    daily, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="0", day_of_month="*", month_of_year="*", day_of_week="*"
    )
    PeriodicTask.objects.get_or_create(
        name="Close the quarter that ended",
        defaults={"task": "scoring.close_previous_quarter", "crontab": quarterly},
    )
    PeriodicTask.objects.get_or_create(
        name="Refresh red flags", defaults={"task": "scoring.refresh_red_flags", "crontab": daily}
    )


def remove(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(
        task__in=["scoring.close_previous_quarter", "scoring.refresh_red_flags"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(install, remove)]
