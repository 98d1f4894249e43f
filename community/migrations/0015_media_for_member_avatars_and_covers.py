import django.db.models.deletion
from django.db import migrations, models

from community.migrations._legacy_images import move_to_asset


def move_images(apps, schema_editor):
    Membership = apps.get_model("community", "Membership")
    Room = apps.get_model("community", "Room")
    for membership in Membership.objects.exclude(avatar=""):
        membership.avatar_media = move_to_asset(
            apps,
            name=membership.avatar.name,
            owner_id=membership.user_id,
            room_id=membership.room_id,
        )
        membership.save(update_fields=["avatar_media"])
    for room in Room.objects.exclude(cover=""):
        room.cover_media = room.cover_media or move_to_asset(
            apps, name=room.cover.name, owner_id=room.owner_id, room_id=room.pk
        )
        room.save(update_fields=["cover_media"])


class Migration(migrations.Migration):
    dependencies = [
        ("community", "0014_notification_settings_names"),
    ]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="avatar_media",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="community.mediaasset",
            ),
        ),
        migrations.RunPython(move_images, migrations.RunPython.noop),
        migrations.RemoveField(model_name="membership", name="avatar"),
        migrations.RemoveField(model_name="room", name="cover"),
    ]
