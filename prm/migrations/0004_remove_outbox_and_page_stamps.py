"""The outbox of Celery tasks and the page stamps go: a requested close is its queued
``QuarterClose`` row (scoring), and the deal list is drawn on every request."""

from django.db import migrations

DROP = """
DROP FUNCTION IF EXISTS prm_page_stamp_touch(bigint[]);
DROP SEQUENCE IF EXISTS prm_pagestamp_seq;
"""


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


def unschedule_drain(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task="prm.send_pending_tasks").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("prm", "0003_page_stamps"),
        ("deals", "0013_drop_page_stamp_triggers"),
        ("partners", "0018_drop_page_stamp_triggers"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(unschedule_drain, migrations.RunPython.noop),
        migrations.RunPython(drop_function, migrations.RunPython.noop),
        migrations.DeleteModel(name="PageStamp"),
        migrations.DeleteModel(name="PendingTask"),
    ]
