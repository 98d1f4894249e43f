"""The platform fee's sub-accounts ("shards") of every configured currency, created up
front (``COMMERCE_PLATFORM_FEE_SHARDS`` of them; a shard missing later, e.g. after raising
the setting, is created with the others by the first payment that picks it).

Reversible while the shards above 0 hold no legs: unsharding a fee that was credited to
them would need their legs moved, and legs are append-only, so the reverse refuses. A
migration of its own: deleting accounts queues the legs' deferred foreign-key checks,
and PostgreSQL refuses to alter the table in a transaction with those pending.
"""

from django.conf import settings
from django.db import migrations, models

PLATFORM_FEE = "platform_fee"


def create_shards(apps, schema_editor):
    Account = apps.get_model("commerce", "Account")
    alias = schema_editor.connection.alias
    shards = max(1, int(getattr(settings, "COMMERCE_PLATFORM_FEE_SHARDS", 1)))
    for currency in settings.COMMERCE_CURRENCIES:
        existing = set(
            Account.objects.using(alias)
            .filter(kind=PLATFORM_FEE, user=None, currency=currency)
            .values_list("shard", flat=True)
        )
        Account.objects.using(alias).bulk_create(
            [
                Account(kind=PLATFORM_FEE, user=None, currency=currency, shard=shard)
                for shard in range(shards)
                if shard not in existing
            ]
        )


def remove_shards(apps, schema_editor):
    Account = apps.get_model("commerce", "Account")
    Leg = apps.get_model("commerce", "Leg")
    alias = schema_editor.connection.alias
    extra = Account.objects.using(alias).filter(kind=PLATFORM_FEE, shard__gt=0)
    used = Leg.objects.using(alias).filter(account__in=extra).values("account_id").distinct()
    if used.exists():
        raise RuntimeError(
            "Platform fee shards above 0 hold ledger legs; their money cannot be moved "
            "back into one account without rewriting append-only rows. Not reversed."
        )
    extra.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("commerce", "0007_account_shard"),
    ]

    operations = [
        migrations.RunPython(create_shards, remove_shards),
    ]
