"""On PostgreSQL the audit log is append-only in the database too.

A trigger refuses DELETE, and UPDATE of anything but the foreign keys that
``on_delete=SET_NULL`` clears when a user, room or case is deleted.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION community_auditlog_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'the audit log is append-only';
    END IF;
    IF NEW.id IS DISTINCT FROM OLD.id
        OR NEW.action IS DISTINCT FROM OLD.action
        OR NEW.target_type IS DISTINCT FROM OLD.target_type
        OR NEW.target_id IS DISTINCT FROM OLD.target_id
        OR NEW.target_repr IS DISTINCT FROM OLD.target_repr
        OR NEW.reason IS DISTINCT FROM OLD.reason
        OR NEW.details::text IS DISTINCT FROM OLD.details::text
        OR NEW.created_at IS DISTINCT FROM OLD.created_at
        OR (NEW.actor_id IS NOT NULL AND NEW.actor_id IS DISTINCT FROM OLD.actor_id)
        OR (NEW.subject_id IS NOT NULL AND NEW.subject_id IS DISTINCT FROM OLD.subject_id)
        OR (NEW.room_id IS NOT NULL AND NEW.room_id IS DISTINCT FROM OLD.room_id)
        OR (NEW.case_id IS NOT NULL AND NEW.case_id IS DISTINCT FROM OLD.case_id)
    THEN
        RAISE EXCEPTION 'the audit log is append-only';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS community_auditlog_append_only ON community_auditlogentry;
CREATE TRIGGER community_auditlog_append_only
    BEFORE UPDATE OR DELETE ON community_auditlogentry
    FOR EACH ROW EXECUTE FUNCTION community_auditlog_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS community_auditlog_append_only ON community_auditlogentry;
DROP FUNCTION IF EXISTS community_auditlog_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("community", "0009_moderators_group")]

    operations = [migrations.RunPython(forwards, backwards)]
