"""A requested close is its queued row: when it was last sent to the broker, and the sweep
that sends again the ones still queued (every five minutes, editable in the admin)."""

from django.db import migrations, models

TASK = "scoring.requeue_closes"


def install(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = IntervalSchedule.objects.get_or_create(every=5, period="minutes")
    PeriodicTask.objects.get_or_create(
        name="Send again the quarter closes still queued",
        defaults={"task": TASK, "interval": every},
    )


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0008_money_fits_its_sums"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.AddField(
            model_name="quarterclose",
            name="sent_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When a queued close was last handed to the broker.",
                null=True,
            ),
        ),
        migrations.RunPython(install, remove),
    ]
