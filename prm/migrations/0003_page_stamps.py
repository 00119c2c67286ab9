"""Page stamps (``prm.pagecache``): the table, and ``prm_page_stamp_touch(scopes)`` that the
triggers of the apps' tables call. The function exists on PostgreSQL only; elsewhere the
page cache is off and no trigger calls it."""

from django.db import migrations, models

CREATE = """
CREATE SEQUENCE prm_pagestamp_seq;
CREATE FUNCTION prm_page_stamp_touch(scopes bigint[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO prm_pagestamp (scope, stamp)
    SELECT touched.scope, nextval('prm_pagestamp_seq')
    FROM (SELECT DISTINCT unnest(scopes) AS scope) AS touched
    WHERE touched.scope IS NOT NULL
    ORDER BY touched.scope
    ON CONFLICT (scope) DO UPDATE SET stamp = EXCLUDED.stamp
$$;
"""

DROP = """
DROP FUNCTION IF EXISTS prm_page_stamp_touch(bigint[]);
DROP SEQUENCE IF EXISTS prm_pagestamp_seq;
"""


def on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("prm", "0002_schedule")]

    operations = [
        migrations.CreateModel(
            name="PageStamp",
            fields=[
                ("scope", models.BigIntegerField(primary_key=True, serialize=False)),
                ("stamp", models.BigIntegerField()),
            ],
        ),
        migrations.RunPython(on_postgresql(CREATE), on_postgresql(DROP)),
    ]
