"""Retire the API tokens of DRF's authtoken app.

They never expired and were stored as they were sent, so anyone who ever read the table
(a backup, a replica, a support dump) holds working credentials. They are not carried
over into the hashed, expiring tokens: the table is dropped, with the app's bookkeeping
(its applied migrations, content types and permissions). Clients ask for a new token at
POST /api/v1/auth/token/ (README, "API tokens").
"""

from django.db import migrations

TABLE = "authtoken_token"


def retire(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    if TABLE in tables:
        schema_editor.execute(f"DROP TABLE {schema_editor.quote_name(TABLE)}")
    schema_editor.execute("DELETE FROM django_migrations WHERE app = %s", ["authtoken"])
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="authtoken").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0019_api_tokens"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(retire, migrations.RunPython.noop, elidable=False)]
