"""Writes for chat messages."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from community.models import Membership, Message, Room
from config.errors import DomainError, PermissionDeniedError


@transaction.atomic
def send_message(
    *, membership: Membership, body: str, client_id: str = "", reply_to_id: int | None = None
) -> Message:
    """Store a text message with the next per-room ``seq`` (taken under the room lock)."""
    body = body.strip()
    if not body:
        raise DomainError(_("A message cannot be empty."), fields={"body": [_("Required.")]})
    if client_id:
        existing = Message.objects.filter(author=membership, client_id=client_id).first()
        if existing:
            return existing
    room = Room.objects.select_for_update().get(pk=membership.room_id)
    if membership.state != Membership.State.ACTIVE:
        raise PermissionDeniedError(_("You are not a member of this room."))
    room.last_message_seq += 1
    room.last_activity_at = timezone.now()
    room.save(update_fields=["last_message_seq", "last_activity_at"])
    return Message.objects.create(
        room=room,
        author=membership,
        body=body,
        client_id=client_id,
        reply_to_id=reply_to_id,
        seq=room.last_message_seq,
    )
