"""A creator's pending earnings split over sub-accounts like the platform fee: one user
account per kind, currency AND shard (above 0 only for ``earnings_pending``), created on
a payment's first need; and the merge transfer that moves the shards into shard 0.
Reversing it needs every user account back at shard 0 (the unique constraint)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("commerce", "0008_platform_fee_shards"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The new constraints first, then the old ones go: never a moment with neither.
        migrations.AddConstraint(
            model_name="account",
            constraint=models.UniqueConstraint(
                condition=models.Q(("user__isnull", False)),
                fields=("kind", "user", "currency", "shard"),
                name="ledger_one_user_account_per_kind_currency_shard",
            ),
        ),
        migrations.RemoveConstraint(
            model_name="account",
            name="ledger_one_user_account_per_kind_currency",
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("shard", 0),
                    models.Q(("kind", "platform_fee"), ("user__isnull", True)),
                    models.Q(("kind", "earnings_pending"), ("user__isnull", False)),
                    _connector="OR",
                ),
                name="ledger_only_fee_and_pending_earnings_sharded",
            ),
        ),
        migrations.RemoveConstraint(
            model_name="account",
            name="ledger_only_platform_fee_sharded",
        ),
        migrations.AlterField(
            model_name="transfer",
            name="kind",
            field=models.CharField(
                choices=[
                    ("topup", "Top-up"),
                    ("tip", "Tip"),
                    ("room_entry", "Room entry"),
                    ("room_membership", "Room membership"),
                    ("maturation", "Earnings released"),
                    ("payout", "Payout"),
                    ("payout_settlement", "Payout sent"),
                    ("reversal", "Reversal"),
                    ("adjustment", "Adjustment"),
                    ("earnings_merge", "Pending earnings merged"),
                ],
                max_length=24,
            ),
        ),
    ]
