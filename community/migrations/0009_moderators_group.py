"""The ``moderators`` staff group: exactly what the moderators' desk needs.

They see and act on the case queue, read reports, appeals and the audit log, and keep
the site-wide word filters. Nothing else: no users, profiles, rooms or commerce models.
"""

from django.db import migrations

MODERATOR_PERMISSIONS = {
    "moderationcase": ["view", "change"],
    "report": ["view"],
    "appeal": ["view"],
    "auditlogentry": ["view"],
    "blockedpattern": ["view", "add", "change", "delete"],
}


def create_group(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; the group needs them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="moderators")
    codenames = [
        f"{verb}_{model}" for model, verbs in MODERATOR_PERMISSIONS.items() for verb in verbs
    ]
    permissions = Permission.objects.filter(
        content_type__app_label="community", codename__in=codenames
    )
    group.permissions.set(permissions)


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="moderators").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("community", "0008_moderation"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
