"""PostgreSQL-only guards the ORM cannot express.

* ``commerce_transfer`` and ``commerce_leg`` are append-only: a trigger refuses every
  UPDATE and DELETE (corrections are reversal transfers).
* A deferred constraint trigger checks, at commit, that each transfer's legs sum to
  zero per currency and that each leg is in its account's currency.

SQLite has no deferred triggers; there the services check the same rules.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION commerce_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER commerce_transfer_append_only
    BEFORE UPDATE OR DELETE ON commerce_transfer
    FOR EACH ROW EXECUTE FUNCTION commerce_refuse_change();

CREATE TRIGGER commerce_leg_append_only
    BEFORE UPDATE OR DELETE ON commerce_leg
    FOR EACH ROW EXECUTE FUNCTION commerce_refuse_change();

CREATE OR REPLACE FUNCTION commerce_check_transfer_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    unbalanced text;
BEGIN
    SELECT currency INTO unbalanced FROM commerce_leg
        WHERE transfer_id = NEW.transfer_id
        GROUP BY currency HAVING SUM(amount) <> 0 LIMIT 1;
    IF unbalanced IS NOT NULL THEN
        RAISE EXCEPTION 'transfer % legs do not sum to zero in %', NEW.transfer_id, unbalanced
            USING ERRCODE = 'check_violation';
    END IF;
    IF EXISTS (SELECT 1 FROM commerce_account
               WHERE id = NEW.account_id AND currency <> NEW.currency) THEN
        RAISE EXCEPTION 'leg % is not in its account''s currency', NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER commerce_leg_balanced
    AFTER INSERT ON commerce_leg
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION commerce_check_transfer_balanced();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS commerce_leg_balanced ON commerce_leg;
DROP FUNCTION IF EXISTS commerce_check_transfer_balanced();
DROP TRIGGER IF EXISTS commerce_leg_append_only ON commerce_leg;
DROP TRIGGER IF EXISTS commerce_transfer_append_only ON commerce_transfer;
DROP FUNCTION IF EXISTS commerce_refuse_change();
"""


def _on_postgres(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("commerce", "0001_initial")]

    operations = [migrations.RunPython(_on_postgres(FORWARD), _on_postgres(BACKWARD))]
