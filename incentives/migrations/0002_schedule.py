"""The money engine's daily jobs on Celery beat (editable afterwards in the admin)."""

from django.db import migrations

JOBS = [
    ("Flag incentive claims past their verification SLA", "incentives.flag_overdue_claims"),
    ("Void unclaimed incentives", "incentives.void_lapsed"),
    ("Release MDF reservations whose claim window closed", "incentives.expire_mdf"),
]


def install(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    daily, _ = CrontabSchedule.objects.get_or_create(
        minute="20", hour="0", day_of_week="*", day_of_month="*", month_of_year="*"
    )
    for name, task in JOBS:
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "crontab": daily})


def remove(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task__in=[task for _, task in JOBS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("incentives", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(install, remove)]
