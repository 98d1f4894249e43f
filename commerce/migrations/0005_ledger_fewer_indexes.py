"""Two ledger indexes nothing reads, each written by every tip.

* ``commerce_leg.account_id`` alone: ``ledger_leg_account_id`` (account_id, id DESC)
  starts with the same column and serves every lookup by account.
* ``commerce_transfer.created_at``: no query filters or orders transfers by it.

Reversible: the backward migration creates both indexes again.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("commerce", "0004_tip_in_chat"),
    ]

    # Only the indexes: Django's AlterField would also drop and re-add the leg's
    # foreign key, re-checking every leg under a lock that blocks postings.
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="leg",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="legs",
                        to="commerce.account",
                    ),
                ),
                migrations.AlterField(
                    model_name="transfer",
                    name="created_at",
                    field=models.DateTimeField(auto_now_add=True),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "commerce_leg_account_id_5d4e5aff"',
                    'CREATE INDEX IF NOT EXISTS "commerce_leg_account_id_5d4e5aff" '
                    'ON "commerce_leg" ("account_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "commerce_transfer_created_at_ad704fdf"',
                    'CREATE INDEX IF NOT EXISTS "commerce_transfer_created_at_ad704fdf" '
                    'ON "commerce_transfer" ("created_at")',
                ),
            ],
        )
    ]
