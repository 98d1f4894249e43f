"""Helpers shared by the moderation tests (plain functions, so no conftest edits)."""

from django.contrib.auth.models import Group

from community.chat.models import Message
from community.rooms.models import Membership


def moderators_group() -> Group:
    """The group the data migration created; a transactional test's flush removes it, so
    it is then re-created by the migration's own function."""
    group = Group.objects.filter(name="moderators").first()
    if group is None:
        ensure_permissions()
        from importlib import import_module

        from django.apps import apps

        import_module("community.migrations.0009_moderators_group").create_group(apps, None)
        group = Group.objects.get(name="moderators")
    return group


def make_moderator(make_user, username: str | None = None):
    user = make_user(username)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.groups.add(moderators_group())
    return user


def make_superuser(make_user, username: str | None = None):
    user = make_user(username)
    user.is_staff = True
    user.is_superuser = True
    user.save(update_fields=["is_staff", "is_superuser"])
    return user


def post_message(membership: Membership, body: str) -> Message:
    """A stored message through the chat's trusted send path (no limits, no filters)."""
    from community.chat.services import send_message

    return send_message(membership=membership, body=body)


def owner_membership(room) -> Membership:
    return Membership.objects.get(room=room, role=Membership.Role.OWNER)


def ensure_permissions() -> None:
    """Re-create the model permissions a flush without post-migrate removed (a
    transactional test with ``available_apps``), as ``migrate`` does."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.models import ContentType

    # A flush re-numbers the content types: the process's cache of them is stale.
    ContentType.objects.clear_cache()
    # Always (it only adds what is missing): a flush may have left some apps' rows.
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
