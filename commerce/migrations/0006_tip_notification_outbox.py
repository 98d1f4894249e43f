"""The tips' notification outbox: a row per paid tip whose recipient is still to be
notified, written with the payment and deleted by the relay once notified."""

import django.db.models.deletion
import django.db.models.functions.datetime
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("commerce", "0005_ledger_fewer_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="TipNotificationOutbox",
            fields=[
                (
                    "tip",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="commerce.tip",
                    ),
                ),
                (
                    "created_at",
                    models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
                ),
            ],
            options={
                "verbose_name": "tip awaiting its notification",
                "verbose_name_plural": "tips awaiting their notification",
                "db_table": "commerce_tip_notification_outbox",
            },
        ),
    ]
