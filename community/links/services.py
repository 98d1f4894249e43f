"""Writes for link previews: link a message to its URL's cached preview, fetch what is
missing or stale (one fetch per URL, whoever asks), and tell the room.

The flow (docs/links.md): a text message is saved with a URL → ``queue_message_preview``
(chat's ``post_save``, wired in community/apps.py) queues the task on commit → the task
calls :func:`preview_message_link`: the message is linked to the row of its first URL;
a fresh row is used as is, otherwise this task claims the fetch, fetches through the
guarded client (``community.links.fetch``), stores the result and sends
``message.updated`` for every message that was waiting for it.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from community import events
from community.chat.models import Message
from community.chat.selectors import message_payload_by_id
from community.links.fetch import HTML_TYPES, FetchRefused, fetch, normalize_url, parse_page
from community.links.images import IMAGE_TYPES, ImageRefused, preview_image
from community.links.models import LinkPreview, MessageLink
from community.links.selectors import (
    first_url,
    is_fresh,
    link_preview_payload,
    unannounced_links,
    unused_preview_ids,
    url_hash,
)
from community.media.services import media_storage
from config.errors import DomainError

logger = logging.getLogger(__name__)


def _claim_seconds() -> float:
    # A page and its image, each under its own deadline, and some slack: a claim older
    # than this belongs to a worker that died mid-fetch and may be taken over.
    return 2 * settings.LINK_PREVIEW_TIMEOUT_SECONDS + 30


# --- queueing ----------------------------------------------------------------------------


def queue_message_preview(*, instance: Message, created: bool = False, **kwargs) -> None:
    """``post_save`` of a message: a new text message with a URL, or an edited text
    (its URL may have changed or gone), gets its preview looked up after commit."""
    if not settings.LINK_PREVIEWS_ENABLED or kwargs.get("raw"):
        return
    message = instance
    if message.kind != Message.Kind.TEXT or message.is_deleted:
        return
    update_fields = kwargs.get("update_fields")
    edited = not created and update_fields is not None and "body" in update_fields
    if not (edited or (created and first_url(message.body))):
        return
    # Imported here: the task module imports this one (the task calls back into it).
    from community.links import tasks

    tasks.preview_message_link.delay_on_commit(message.pk)


# --- a message's preview ------------------------------------------------------------------


def preview_message_link(*, message_id: int) -> str:
    """Link the message to its first URL's preview, fetching it when nobody has lately.
    Idempotent: a repeated run changes nothing and sends nothing. Returns what happened
    (``"none"``, ``"cached"``, ``"fetched"``, ``"waiting"``)."""
    message = (
        Message.objects.filter(pk=message_id)
        .only("id", "room_id", "kind", "body", "deleted_at")
        .first()
    )
    if message is None:
        return "none"
    url = _previewed_url(message)
    if url is None:
        _unlink_message(message=message)
        return "none"
    preview = _preview_row(url)
    claimed = _link_message(message=message, preview_id=preview.pk)
    if claimed is None:
        return "cached" if is_fresh(LinkPreview.objects.get(pk=preview.pk)) else "waiting"
    _fetch_claimed(claimed)
    return "fetched"


def _previewed_url(message: Message) -> str | None:
    """The address a message's card is for: the first of a live text message's."""
    if message.is_deleted or message.kind != Message.Kind.TEXT:
        return None
    try:
        return normalize_url(first_url(message.body) or "")
    except FetchRefused:
        return None


def _preview_row(url: str) -> LinkPreview:
    digest = url_hash(url)
    preview = LinkPreview.objects.filter(url_hash=digest).first()
    if preview is not None:
        return preview
    try:
        with transaction.atomic():
            return LinkPreview.objects.create(url=url, url_hash=digest)
    except IntegrityError:  # created by a concurrent message with the same URL
        return LinkPreview.objects.get(url_hash=digest)


def _announce(message_id: int, room_id: int) -> None:
    events.send_on_commit(
        f"room.{room_id}", events.message_updated(message=message_payload_by_id(message_id))
    )


@transaction.atomic
def _unlink_message(*, message: Message) -> None:
    """The text has no address any more (edited, or the message deleted): no card."""
    link = MessageLink.objects.select_related("preview").filter(message_id=message.pk).first()
    if link is None:
        return
    shown = link_preview_payload(link.preview) is not None
    link.delete()
    if shown and not message.is_deleted:
        _announce(message.pk, message.room_id)


@transaction.atomic
def _link_message(*, message: Message, preview_id: int) -> LinkPreview | None:
    """Point the message at the preview; returns the preview when this caller claimed
    its fetch. The preview's row lock comes first, then the link's: the order the
    fetch's finish takes too, so a link made while the fetch finishes is either seen
    by it or sees its result."""
    preview = LinkPreview.objects.select_for_update().get(pk=preview_id)
    link = (
        MessageLink.objects.select_for_update()
        .select_related("preview")
        .filter(message_id=message.pk)
        .first()
    )
    before = link_preview_payload(link.preview) if link is not None else None
    fresh = is_fresh(preview)
    if link is None:
        link = MessageLink(message_id=message.pk, preview=preview, announced=fresh)
        link.save()
    elif link.preview_id != preview.pk or link.announced != fresh:
        link.preview = preview
        link.announced = fresh
        link.save(update_fields=["preview", "announced"])
    if link_preview_payload(preview) != before:
        _announce(message.pk, message.room_id)
    if fresh:
        return None
    return _claim(preview)


def _claim(preview: LinkPreview) -> LinkPreview | None:
    """Take the fetch of a locked, stale preview unless someone is on it."""
    now = timezone.now()
    if (
        preview.status == LinkPreview.Status.FETCHING
        and preview.claimed_at is not None
        and preview.claimed_at > now - timedelta(seconds=_claim_seconds())
    ):
        return None
    preview.status = LinkPreview.Status.FETCHING
    preview.claimed_at = now
    preview.save(update_fields=["status", "claimed_at"])
    return preview


# --- fetching ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    title: str = ""
    description: str = ""
    site_name: str = ""
    image_name: str = ""
    image_width: int | None = None
    image_height: int | None = None
    failure_reason: str = ""


def _fetch_outcome(preview: LinkPreview) -> _Outcome:
    """The page's card, its image stored (no database writes here)."""
    try:
        page = fetch(preview.url, accept=HTML_TYPES, max_bytes=settings.LINK_PREVIEW_MAX_BYTES)
    except FetchRefused as refused:
        return _Outcome(failure_reason=refused.reason)
    meta = parse_page(page)
    image = None
    if meta.image_url:
        try:
            fetched = fetch(
                meta.image_url, accept=IMAGE_TYPES, max_bytes=settings.LINK_PREVIEW_IMAGE_MAX_BYTES
            )
            image = preview_image(fetched.body)
        except (FetchRefused, ImageRefused) as refused:
            logger.info("link preview image skipped for %s: %s", preview.url, refused)
    if not (meta.title or meta.description or image):
        return _Outcome(failure_reason="no_metadata")
    image_name = ""
    if image is not None:
        image_name = media_storage().save(
            f"link-previews/{preview.key}/{uuid.uuid4().hex[:12]}.webp", ContentFile(image.data)
        )
    return _Outcome(
        title=meta.title,
        description=meta.description,
        site_name=meta.site_name,
        image_name=image_name,
        image_width=image.width if image else None,
        image_height=image.height if image else None,
    )


def _fetch_claimed(preview: LinkPreview) -> LinkPreview:
    claimed_at = preview.claimed_at
    try:
        outcome = _fetch_outcome(preview)
    except Exception:
        _release_claim(preview_id=preview.pk, claimed_at=claimed_at)
        raise
    try:
        return _finish(preview_id=preview.pk, claimed_at=claimed_at, outcome=outcome)
    except Exception:
        if outcome.image_name:
            media_storage().delete(outcome.image_name)
        _release_claim(preview_id=preview.pk, claimed_at=claimed_at)
        raise


@transaction.atomic
def _release_claim(*, preview_id: int, claimed_at) -> None:
    """A fetch that raised (storage, database): the next attempt may claim it at once."""
    LinkPreview.objects.filter(
        pk=preview_id, status=LinkPreview.Status.FETCHING, claimed_at=claimed_at
    ).update(status=LinkPreview.Status.PENDING, claimed_at=None)


@transaction.atomic
def _finish(*, preview_id: int, claimed_at, outcome: _Outcome) -> LinkPreview:
    """Store the outcome and announce it to every message that waited for it."""
    preview = LinkPreview.objects.select_for_update().get(pk=preview_id)
    if preview.claimed_at != claimed_at:  # taken over meanwhile: the other fetch wins
        if outcome.image_name:
            transaction.on_commit(lambda: media_storage().delete(outcome.image_name))
        return preview
    old_image = preview.image_name
    preview.status = (
        LinkPreview.Status.FAILED if outcome.failure_reason else LinkPreview.Status.READY
    )
    preview.failure_reason = outcome.failure_reason
    preview.title = outcome.title
    preview.description = outcome.description
    preview.site_name = outcome.site_name
    preview.image_name = outcome.image_name
    preview.image_width = outcome.image_width
    preview.image_height = outcome.image_height
    preview.fetched_at = timezone.now()
    preview.claimed_at = None
    preview.save()
    if old_image and old_image != preview.image_name:
        transaction.on_commit(lambda: media_storage().delete(old_image))
    waiting = unannounced_links(preview_id=preview.pk)
    for link in waiting:
        if not link.message.is_deleted:
            _announce(link.message_id, link.message.room_id)
    MessageLink.objects.filter(pk__in=[link.pk for link in waiting]).update(announced=True)
    return preview


# --- upkeep -----------------------------------------------------------------------------

SWEEP_BATCH = 500


def sweep_link_previews() -> int:
    """Delete previews no message shows that nobody used for ``LINK_PREVIEW_TTL_SECONDS``
    (composer look-ups, edited-away links), with their images. Returns how many."""
    cutoff = timezone.now() - timedelta(seconds=settings.LINK_PREVIEW_TTL_SECONDS)
    ids = unused_preview_ids(before=cutoff, limit=SWEEP_BATCH)
    return _delete_unused(preview_ids=ids) if ids else 0


@transaction.atomic
def _delete_unused(*, preview_ids: list[int]) -> int:
    # Under the previews' row locks no message can be linked to them (a link is made
    # holding its preview's lock), so "unused" stays true until they are gone.
    locked = list(LinkPreview.objects.select_for_update().filter(pk__in=preview_ids).order_by("pk"))
    unused = [p.pk for p in locked if not MessageLink.objects.filter(preview_id=p.pk).exists()]
    # The rows' images are deleted on commit (models.delete_image_with_the_row).
    deleted, _by_model = LinkPreview.objects.filter(pk__in=unused).delete()
    return deleted


# --- a URL's preview, asked for directly (GET /api/v1/link-preview/) ---------------------


def preview_url(*, url: str) -> LinkPreview:
    """The preview of ``url`` for a composer: the cached one; otherwise its fetch is
    claimed and queued (a worker fetches, never the web process) and the row comes back
    ``fetching`` (the client asks again)."""
    try:
        url = normalize_url(url)
    except FetchRefused as refused:
        raise DomainError(
            _("Enter a full http:// or https:// address."),
            code="invalid_url",
            fields={"url": [_("Invalid address.")]},
        ) from refused
    preview = _preview_row(url)
    if is_fresh(preview):
        return preview
    claimed = _claim_locked(preview_id=preview.pk)
    if claimed is not None:
        # Imported here: the task module imports this one (the task calls back into it).
        from community.links import tasks

        tasks.fetch_link_preview.delay_on_commit(claimed.pk)
    preview.refresh_from_db()
    return preview


def fetch_link_preview(*, preview_id: int) -> str:
    """The queued fetch of a preview a composer's look-up claimed. Idempotent: a row no
    longer ``fetching`` (done, or taken over) is left alone."""
    preview = LinkPreview.objects.filter(pk=preview_id, status=LinkPreview.Status.FETCHING).first()
    if preview is None:
        return "skipped"
    _fetch_claimed(preview)
    return "fetched"


@transaction.atomic
def _claim_locked(*, preview_id: int) -> LinkPreview | None:
    preview = LinkPreview.objects.select_for_update().get(pk=preview_id)
    if is_fresh(preview):
        return None
    return _claim(preview)
