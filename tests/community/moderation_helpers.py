"""Helpers shared by the moderation tests (plain functions, so no conftest edits)."""

from django.contrib.auth.models import Group

from community.models import Membership, Message


def make_moderator(make_user, username: str | None = None):
    user = make_user(username)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.groups.add(Group.objects.get(name="moderators"))
    return user


def make_superuser(make_user, username: str | None = None):
    user = make_user(username)
    user.is_staff = True
    user.is_superuser = True
    user.save(update_fields=["is_staff", "is_superuser"])
    return user


def post_message(membership: Membership, body: str) -> Message:
    """A stored message through the chat send path (filters are tested separately)."""
    from community.services import messages

    if hasattr(messages, "check_send_message"):
        return messages.check_send_message(membership=membership, body=body).message
    return messages.send_message(membership=membership, body=body)


def owner_membership(room) -> Membership:
    return Membership.objects.get(room=room, role=Membership.Role.OWNER)
