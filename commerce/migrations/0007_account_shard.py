"""``Account.shard``: the platform fee is split over sub-accounts, one system account per
kind, currency AND shard (0 for every account but the fee's shards). The shards
themselves: ``0008_platform_fee_shards``."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("commerce", "0006_tip_notification_outbox"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="account",
            name="shard",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        # The new unique constraint first, then the old one goes: never a moment with
        # neither (the migration is one transaction on PostgreSQL anyway).
        migrations.AddConstraint(
            model_name="account",
            constraint=models.UniqueConstraint(
                condition=models.Q(("user__isnull", True)),
                fields=("kind", "currency", "shard"),
                name="ledger_one_system_account_per_kind_currency_shard",
            ),
        ),
        migrations.RemoveConstraint(
            model_name="account",
            name="ledger_one_system_account_per_kind_currency",
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("shard", 0),
                    models.Q(("kind", "platform_fee"), ("user__isnull", True)),
                    _connector="OR",
                ),
                name="ledger_only_platform_fee_sharded",
            ),
        ),
    ]
