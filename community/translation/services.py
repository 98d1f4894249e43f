"""Writes of translation: a message rendered in a reader's language (through the
configured engine, cached per message and language), and the cache forgotten when the
message changes.

The engine is called outside any transaction (a slow engine holds no lock); the
translation is stored after the message row is locked and found unchanged, so an edit
or a removal that raced the engine never leaves a stale translation behind.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext as _

from community.chat.models import Message
from community.translation.detection import detect_language
from community.translation.engines import EngineError, TranslationEngine, configured_engine
from community.translation.models import MessageTranslation
from community.translation.selectors import cached_translation, readable_message, translatable
from config.counters import count_in_window
from config.errors import (
    ConflictError,
    DomainError,
    NotFoundError,
    RateLimitedError,
    ServiceUnavailableError,
)

logger = logging.getLogger(__name__)

# How long the engine's language list is kept (it changes when the operator adds models).
LANGUAGES_CACHE_SECONDS = 3600
# A reader told the engine is down tries again after this long.
ENGINE_RETRY_AFTER_SECONDS = 30
TARGET_MAX_LENGTH = 16


@dataclass(frozen=True)
class Translation:
    message_id: int
    # The language it is rendered in, and the one it was found in (None: unsure).
    language: str
    source_language: str | None
    text: str
    # The engine that rendered it; "" when the message is already in that language.
    engine: str
    # True when it came from the cache, not from the engine just now.
    cached: bool


def _base(code: str) -> str:
    return code.split("-")[0].lower()


def _clean_target(target: str | None) -> str:
    target = (target or "").strip().lower()
    if not target or len(target) > TARGET_MAX_LENGTH:
        raise DomainError(_("Choose a language."), fields={"target": [_("Invalid.")]})
    return target


def _engine_or_404() -> TranslationEngine:
    engine = configured_engine()
    if engine is None:
        # A 4xx, not a 503: the server works as configured, and retrying will not help.
        raise NotFoundError(
            _("Translation is not available on this server."), code="translation_off"
        )
    return engine


def _unavailable(error: EngineError) -> ServiceUnavailableError:
    logger.warning("translation engine failed: %s", error)
    return ServiceUnavailableError(
        _("Translation is unavailable right now. Try again later."),
        code="translation_unavailable",
        retry_after=ENGINE_RETRY_AFTER_SECONDS,
    )


def _engine_language(engine: TranslationEngine, target: str) -> str:
    """The engine's own code for ``target`` ("zh-hans" may be "zh" to it), or a 400."""
    key = f"translation:languages:{engine.name}"
    languages = cache.get(key)
    if languages is None:
        try:
            languages = engine.languages()
        except EngineError as error:
            raise _unavailable(error) from error
        cache.set(key, languages, LANGUAGES_CACHE_SECONDS)
    by_lower = {code.lower(): code for code in languages}
    code = by_lower.get(target) or by_lower.get(_base(target))
    if code is None:
        raise DomainError(
            _("Messages cannot be translated into this language."),
            code="unsupported_language",
            fields={"target": [_("Not supported.")]},
        )
    return code


def _check_rate_limit(*, user_id: int) -> None:
    limit, window = settings.TRANSLATION_RATE
    counted = count_in_window(f"translate-rate:{user_id}", window=window)
    if counted.count > limit:
        raise RateLimitedError(_("You are translating too fast."), retry_after=counted.retry_after)


def _from_row(row: MessageTranslation, *, cached: bool) -> Translation:
    return Translation(
        message_id=row.message_id,
        language=row.language,
        source_language=row.source_language or None,
        text=row.text,
        engine=row.engine,
        cached=cached,
    )


def translate_message(*, user, message_id: int, target: str | None) -> Translation:
    """``message_id`` in ``target`` for ``user``, who must be able to read it.

    Refusals: the message missing, deleted or in a room hidden from the user (404), a
    members-only room (403), translation off (404 ``translation_off``), nothing to
    translate or a language the engine lacks (400), too many engine calls (429; cached
    translations are not counted), the engine failing (503 ``translation_unavailable``).
    """
    target = _clean_target(target)
    # Who may read the message comes first: a refusal says the same whether or not
    # translation is on.
    message = readable_message(message_id=message_id, user=user)
    engine = _engine_or_404()
    if not translatable(message):
        raise DomainError(_("This message has no text to translate."), code="no_text")
    row = cached_translation(message_id=message.pk, language=target)
    if row is not None:
        return _from_row(row, cached=True)
    source = detect_language(message.body)
    if source is not None and source == _base(target):
        # Already in the reader's language: nothing for the engine to do.
        return Translation(
            message_id=message.pk,
            language=target,
            source_language=source,
            text=message.body,
            engine="",
            cached=False,
        )
    _check_rate_limit(user_id=user.pk)
    engine_target = _engine_language(engine, target)
    try:
        text = engine.translate(message.body, source=source or "auto", target=engine_target)
    except EngineError as error:
        raise _unavailable(error) from error
    return store_translation(
        message_id=message.pk,
        translated_body=message.body,
        language=target,
        source_language=source or "",
        text=text,
        engine=engine.name,
    )


@transaction.atomic
def store_translation(
    *,
    message_id: int,
    translated_body: str,
    language: str,
    source_language: str,
    text: str,
    engine: str,
) -> Translation:
    """Keep a translation of ``translated_body`` if it is still the message's text: the
    message row is locked, so an edit or removal either happened before (refused here)
    or waits, and then forgets this translation with the others."""
    message = (
        Message.objects.select_for_update()
        .filter(pk=message_id)
        .only("id", "body", "deleted_at")
        .first()
    )
    if message is None or message.is_deleted:
        raise NotFoundError(_("No such message."))
    if message.body != translated_body:
        raise ConflictError(
            _("The message was edited while it was translated. Try again."), code="edited"
        )
    # Another reader may have stored it first (get_or_create then reads theirs).
    row, created = MessageTranslation.objects.get_or_create(
        message_id=message_id,
        language=language,
        defaults={"source_language": source_language, "text": text, "engine": engine},
    )
    return _from_row(row, cached=not created)


def forget_message_translations(*, message_id: int) -> int:
    """Drop the cached translations of a message whose text changed or that was deleted
    or hidden (in the caller's transaction: the edit's or the removal's)."""
    deleted, _by_model = MessageTranslation.objects.filter(message_id=message_id).delete()
    return deleted
