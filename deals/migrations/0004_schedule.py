"""The deal-registration jobs on Celery beat (editable afterwards in the admin)."""

from django.db import migrations

JOBS = [
    ("Approve registrations past the approval SLA", "deals.auto_approve", "interval"),
    ("Expire lapsed registrations", "deals.expire_lapsed", "daily"),
    ("Escalate overdue conflict cases", "deals.escalate_conflicts", "interval"),
]


def install(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_15, _ = IntervalSchedule.objects.get_or_create(every=15, period="minutes")
    daily, _ = CrontabSchedule.objects.get_or_create(
        minute="10", hour="0", day_of_week="*", day_of_month="*", month_of_year="*"
    )
    for name, task, kind in JOBS:
        schedule = {"interval": every_15} if kind == "interval" else {"crontab": daily}
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, **schedule})


def remove(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task__in=[task for _, task, _ in JOBS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("deals", "0003_deal_auto_approved_deal_closed_at_deal_closed_by_and_more"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(install, remove)]
