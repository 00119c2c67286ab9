"""The deal list is no longer kept per session: the page-stamp triggers on people,
memberships and notices go."""

from django.db import migrations

TABLES = ("partners_partneruser", "partners_notice", "partners_user")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        for event in ("insert", "update", "delete"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS page_stamp_{event} ON {table}")
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {table}_page_stamp()")


class Migration(migrations.Migration):
    dependencies = [("partners", "0017_program_max_deal_amount")]
    operations = [migrations.RunPython(drop, migrations.RunPython.noop)]
