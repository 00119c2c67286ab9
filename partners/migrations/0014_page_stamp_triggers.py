"""Triggers that touch a partner's page stamp (``prm.pagecache``) whenever one of its
people, their memberships or its notices change: the portal's navigation shows the person's
name and role and the count of unread notices. Statement-level, so a bulk write touches
each partner once. PostgreSQL only."""

from django.db import migrations

# table: (rows -> partner ids) for a transition table called ROWS
SCOPES = {
    "partners_partneruser": "SELECT partner_id FROM ROWS",
    "partners_notice": "SELECT partner_id FROM ROWS",
    "partners_user": (
        "SELECT m.partner_id FROM partners_partneruser m WHERE m.user_id IN (SELECT id FROM ROWS)"
    ),
}


def create_sql(table: str, scopes: str) -> str:
    function = f"{table}_page_stamp"
    new, old = scopes.replace("ROWS", "new_rows"), scopes.replace("ROWS", "old_rows")
    return f"""
CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM prm_page_stamp_touch(ARRAY({new}));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM prm_page_stamp_touch(ARRAY({new} UNION {old}));
    ELSE
        PERFORM prm_page_stamp_touch(ARRAY({old}));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER page_stamp_insert AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}();
CREATE TRIGGER page_stamp_update AFTER UPDATE ON {table}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {function}();
CREATE TRIGGER page_stamp_delete AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {function}();
"""


def drop_sql(table: str) -> str:
    return (
        "".join(
            f"DROP TRIGGER IF EXISTS page_stamp_{event} ON {table};"
            for event in ("insert", "update", "delete")
        )
        + f"DROP FUNCTION IF EXISTS {table}_page_stamp();"
    )


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table, scopes in SCOPES.items():
            schema_editor.execute(create_sql(table, scopes))


def remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in SCOPES:
            schema_editor.execute(drop_sql(table))


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0013_notices_seen_per_person"),
        ("prm", "0003_page_stamps"),
    ]
    operations = [migrations.RunPython(install, remove)]
