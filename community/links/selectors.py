"""Reads for link previews: the first URL of a text, the cached row, the payload part."""

import hashlib
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import regex
from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from community.chat.models import Message
from community.links.models import LinkPreview, MessageLink

# An http(s) URL in chat text: up to whitespace, quotes or angle brackets. Trailing
# sentence punctuation (ASCII and CJK) is not part of it, nor a closing bracket that
# was not opened inside it ("(see https://example.com/a)").
_URL_RE = regex.compile(r"\bhttps?://[^\s<>\"'`]+", regex.IGNORECASE)
_TRAILING = ".,;:!?'\"。、，．！？」』）】〉》"
_PAIRS = {")": "(", "]": "[", "}": "{"}


# "https://naver.com에서": a host that already has an ASCII top-level domain ends at the
# first letter of another script (Korean and Japanese attach particles to the address).
_HOST_THEN_WORD = regex.compile(
    r"^(https?://[A-Za-z0-9_.-]*?\.[A-Za-z]{2,})(?=[^\x00-\x7f])", regex.IGNORECASE
)


def first_url(text: str) -> str | None:
    """The first http(s) URL written in ``text``, or None."""
    match = _URL_RE.search(text or "")
    if match is None:
        return None
    url = match.group(0)
    attached = _HOST_THEN_WORD.match(url)
    if attached is not None:
        url = attached.group(1)
    while url:
        last = url[-1]
        if last in _TRAILING or (last in _PAIRS and url.count(last) > url.count(_PAIRS[last])):
            url = url[:-1]
        else:
            break
    return url or None


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def preview_for_url(url: str) -> LinkPreview | None:
    return LinkPreview.objects.filter(url_hash=url_hash(url)).first()


def is_fresh(preview: LinkPreview) -> bool:
    """A finished fetch still young enough to reuse (failures are retried sooner)."""
    if preview.fetched_at is None or preview.status not in (
        LinkPreview.Status.READY,
        LinkPreview.Status.FAILED,
    ):
        return False
    ttl = (
        settings.LINK_PREVIEW_TTL_SECONDS
        if preview.status == LinkPreview.Status.READY
        else settings.LINK_PREVIEW_FAILED_TTL_SECONDS
    )
    return preview.fetched_at > timezone.now() - timedelta(seconds=ttl)


def has_content(preview: LinkPreview) -> bool:
    # Kept while a stale preview is fetched again; cleared when a fetch fails.
    return bool(preview.title or preview.description or preview.image_name)


def link_preview_payload(preview: LinkPreview | None) -> dict[str, Any] | None:
    """The card: plain text fields (clients escape them) and the stored image's URL."""
    if preview is None or not has_content(preview):
        return None
    image = None
    if preview.image_name:
        # The file's own name in the query: a refetched picture is a new URL to caches.
        version = preview.image_name.rsplit("/", 1)[-1].removesuffix(".webp")
        image = {
            "url": reverse("api:link-preview-image", kwargs={"key": preview.key}) + f"?v={version}",
            "width": preview.image_width,
            "height": preview.image_height,
        }
    return {
        "url": preview.url,
        "domain": (urlsplit(preview.url).hostname or "").removeprefix("www."),
        "title": preview.title,
        "description": preview.description,
        "site_name": preview.site_name,
        "image": image,
    }


def message_link_previews(messages: list[Message], viewer) -> dict[int, dict[str, Any]]:
    """``payload["link_preview"]`` of a page of messages (``register_payload_part``):
    one query for a page with links, none without. The same for every viewer."""
    ids = [m.pk for m in messages if m.kind == Message.Kind.TEXT and "://" in (m.body or "")]
    if not ids:
        return {}
    rows = MessageLink.objects.filter(message_id__in=ids).select_related("preview")
    parts = {}
    for row in rows:
        part = link_preview_payload(row.preview)
        if part is not None:
            parts[row.message_id] = part
    return parts


def unannounced_links(*, preview_id: int) -> list[MessageLink]:
    """Links waiting for this preview's fetch, locked, in id order (the caller's
    transaction holds the preview's row lock first)."""
    return list(
        MessageLink.objects.select_for_update(of=("self",))
        .filter(preview_id=preview_id, announced=False)
        .select_related("message")
        .only("id", "message_id", "announced", "message__room_id", "message__deleted_at")
        .order_by("id")
    )


def image_name_for_key(*, key) -> str:
    """The stored image of the preview with this key ("" when it has none)."""
    return LinkPreview.objects.filter(key=key).values_list("image_name", flat=True).first() or ""


def unused_preview_ids(*, before, limit: int) -> list[int]:
    """Previews no message links that were last fetched (or made) before ``before``."""
    return list(
        LinkPreview.objects.filter(links__isnull=True)
        .filter(Q(fetched_at__lt=before) | Q(fetched_at__isnull=True, created_at__lt=before))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
