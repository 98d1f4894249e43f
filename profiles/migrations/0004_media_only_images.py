from django.db import migrations

from community.migrations._legacy_images import move_to_asset


def move_images(apps, schema_editor):
    Profile = apps.get_model("profiles", "Profile")
    StatusPost = apps.get_model("profiles", "StatusPost")
    for profile in Profile.objects.exclude(avatar="", background=""):
        for old, new in (("avatar", "avatar_media"), ("background", "background_media")):
            name = getattr(profile, old).name
            if name and getattr(profile, f"{new}_id") is None:
                setattr(
                    profile,
                    new,
                    move_to_asset(apps, name=name, owner_id=profile.user_id, room_id=None),
                )
        profile.save(update_fields=["avatar_media", "background_media"])
    for post in StatusPost.objects.exclude(image=""):
        if post.image_media_id is None:
            post.image_media = move_to_asset(
                apps, name=post.image.name, owner_id=post.author_id, room_id=None
            )
            post.save(update_fields=["image_media"])


class Migration(migrations.Migration):
    dependencies = [
        ("community", "0015_media_for_member_avatars_and_covers"),
        ("profiles", "0003_media_fields"),
    ]

    operations = [
        migrations.RunPython(move_images, migrations.RunPython.noop),
        migrations.RemoveField(model_name="profile", name="avatar"),
        migrations.RemoveField(model_name="profile", name="background"),
        migrations.RemoveField(model_name="statuspost", name="image"),
    ]
