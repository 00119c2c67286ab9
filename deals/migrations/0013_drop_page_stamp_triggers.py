"""The deal list is no longer kept per session: its page-stamp triggers go."""

from django.db import migrations

DROP = """
DROP TRIGGER IF EXISTS page_stamp_insert ON deals_deal;
DROP TRIGGER IF EXISTS page_stamp_update ON deals_deal;
DROP TRIGGER IF EXISTS page_stamp_delete ON deals_deal;
DROP FUNCTION IF EXISTS deals_deal_page_stamp();
"""


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("deals", "0012_money_fits_its_sums")]
    operations = [migrations.RunPython(drop, migrations.RunPython.noop)]
