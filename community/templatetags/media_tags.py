"""Images from the media pipeline in templates: ``{% load media_tags %}``.

``{{ asset|image_src:"320" }}`` is the URL of a ready image's rendition, the blurred
placeholder (a ``data:`` URI) while it is processed, or "" (no image, or it failed),
so a template shows its empty state instead of a broken link.
"""

from django import template

from community.media.models import MediaAsset
from community.media.selectors import image_url

register = template.Library()


@register.filter
def image_src(asset: MediaAsset | None, size: str) -> str:
    if asset is None:
        return ""
    url = image_url(asset, str(size))
    if url:
        return url
    if asset.state in (MediaAsset.State.PENDING, MediaAsset.State.PROCESSING):
        return asset.placeholder
    return ""


@register.filter
def member_avatar_src(membership) -> str:
    """A member's room avatar (320 px) or its placeholder, or ""."""
    if membership.avatar_media_id is None:
        return ""
    return image_src(membership.avatar_media, "320")
