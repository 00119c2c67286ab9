"""Triggers that touch a partner's page stamp (``prm.pagecache``) whenever one of its deal
registrations is added, changed or removed, by whatever path: services, jobs, the admin or
bulk SQL. Statement-level, so a bulk write touches each partner once. PostgreSQL only."""

from django.db import migrations

CREATE = """
CREATE FUNCTION deals_deal_page_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM prm_page_stamp_touch(ARRAY(SELECT partner_id FROM new_rows));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM prm_page_stamp_touch(
            ARRAY(SELECT partner_id FROM new_rows UNION SELECT partner_id FROM old_rows)
        );
    ELSE
        PERFORM prm_page_stamp_touch(ARRAY(SELECT partner_id FROM old_rows));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER page_stamp_insert AFTER INSERT ON deals_deal
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION deals_deal_page_stamp();
CREATE TRIGGER page_stamp_update AFTER UPDATE ON deals_deal
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION deals_deal_page_stamp();
CREATE TRIGGER page_stamp_delete AFTER DELETE ON deals_deal
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION deals_deal_page_stamp();
"""

DROP = """
DROP TRIGGER IF EXISTS page_stamp_insert ON deals_deal;
DROP TRIGGER IF EXISTS page_stamp_update ON deals_deal;
DROP TRIGGER IF EXISTS page_stamp_delete ON deals_deal;
DROP FUNCTION IF EXISTS deals_deal_page_stamp();
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("deals", "0008_schedule_summaries"),
        ("prm", "0003_page_stamps"),
    ]
    operations = [migrations.RunPython(install, remove)]
