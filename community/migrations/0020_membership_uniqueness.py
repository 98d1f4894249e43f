from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("community", "0019_fill_nickname_keys")]

    operations = [
        migrations.AddConstraint(
            model_name="membership",
            constraint=models.UniqueConstraint(
                condition=models.Q(("state__in", ["active", "banned"])),
                fields=("room", "user"),
                name="one_current_membership_per_user",
            ),
        ),
        migrations.AddConstraint(
            model_name="membership",
            constraint=models.UniqueConstraint(
                condition=models.Q(("state", "active")),
                fields=("room", "nickname_key"),
                name="nickname_unique_among_active_members",
            ),
        ),
    ]
