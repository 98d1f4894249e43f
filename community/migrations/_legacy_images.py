"""Moves images stored by the old plain ImageFields (raw uploads, EXIF/GPS included, in
the public default storage) into media assets, for community 0015 and profiles 0004.

Each file becomes a ``pending`` asset whose upload sits in the private media storage;
``sweep_media_assets`` queues assets left pending, so the stripped renditions follow
within ``MEDIA_STALE_SECONDS``. Until then pages show no image, never a broken one. The
old public file is deleted once the migration commits. Self-contained on purpose
(historical models, no app code) so later changes to the app cannot break it.
"""

import uuid

from django.core.files.storage import storages
from django.db import transaction

# What the old forms accepted and the pipeline decodes, told from the first bytes.
_SIGNATURES = [
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"GIF87a", "image/gif", "gif"),
    (b"GIF89a", "image/gif", "gif"),
]


def _sniff(head: bytes):
    for signature, content_type, extension in _SIGNATURES:
        if head.startswith(signature):
            return content_type, extension
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", "webp"
    return None


def move_to_asset(apps, *, name: str, owner_id: int, room_id: int | None):
    """A pending asset for the old file ``name`` (or None when it is gone or not an
    image the pipeline takes); the old file is deleted after commit either way."""
    if not name:
        return None
    MediaAsset = apps.get_model("community", "MediaAsset")
    public, private = storages["default"], storages["media"]
    asset = None
    if public.exists(name):
        with public.open(name, "rb") as old:
            found = _sniff(old.read(16))
            if found is not None:
                content_type, extension = found
                old.seek(0)
                key = uuid.uuid4()
                stored = private.save(f"assets/{key}/upload.{extension}", old)
                asset = MediaAsset.objects.create(
                    key=key,
                    owner_id=owner_id,
                    room_id=room_id,
                    kind="image",
                    state="pending",
                    content_type=content_type,
                    original_content_type=content_type,
                    size_bytes=private.size(stored),
                    original_name=stored,
                )
    transaction.on_commit(lambda: public.delete(name))
    return asset
