"""Reads of translation: whether a reader may translate a message, cached
translations, and the ``translation`` part of the message payload."""

from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from community.chat.models import Message
from community.chat.selectors import readable_room
from community.translation.detection import detect_language
from community.translation.models import MessageTranslation
from config.errors import NotFoundError


def readable_message(*, message_id: int, user) -> Message:
    """The message if ``user`` may read it (community.access, through chat's
    ``readable_room``), else NotFound — a message in a room hidden from the user is
    exactly a missing message — or PermissionDenied (a members-only public room). A
    deleted or hidden message is gone."""
    message = (
        Message.objects.filter(pk=message_id)
        .only("id", "room_id", "kind", "body", "deleted_at")
        .first()
    )
    if message is None:
        raise NotFoundError(_("No such message."))
    try:
        readable_room(room_id=message.room_id, user=user)
    except NotFoundError:
        raise NotFoundError(_("No such message.")) from None
    if message.is_deleted:
        raise NotFoundError(_("No such message."))
    return message


def cached_translation(*, message_id: int, language: str) -> MessageTranslation | None:
    return MessageTranslation.objects.filter(message_id=message_id, language=language).first()


def translatable(message: Message) -> bool:
    return (
        message.kind != Message.Kind.SYSTEM
        and not message.is_deleted
        and bool(message.body.strip())
    )


def translation_parts(messages: list[Message], viewer: Any = None) -> dict[int, dict | None]:
    """The ``translation`` payload part: ``{"source_language": code or None}`` for each
    message with text when translation is on (None when it is off, or nothing to
    translate), so clients offer "Translate" only where it can work and skip messages
    already in the reader's language. Detection runs in memory: no query."""
    if not _enabled():
        return {}
    return {
        message.pk: {"source_language": detect_language(message.body)}
        for message in messages
        if translatable(message)
    }


def _enabled() -> bool:
    return bool(settings.TRANSLATION_ENGINE)
