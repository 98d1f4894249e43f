"""A link preview's picture: untrusted bytes from the web, checked and re-encoded.

Only what media accepts as an image (sniffed from the bytes, never from the server's
Content-Type), under media's pixel limit; the first frame, upright, fitted into
``LINK_PREVIEW_IMAGE_SIDE`` and stored as a metadata-free WebP.
"""

import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, ImageOps

from community.media.processing import pillow_formats
from community.media.types import sniff

IMAGE_TYPES = ("image/jpeg", "image/jpg", "image/png", "image/gif", "image/webp", "image/avif")


class ImageRefused(Exception):
    pass


@dataclass(frozen=True)
class PreviewImage:
    data: bytes
    width: int
    height: int


def preview_image(data: bytes) -> PreviewImage:
    media_type = sniff(data[:64])
    if media_type is None or media_type.kind != "image" or media_type.extension in ("heic",):
        raise ImageRefused("not an image")
    side = settings.LINK_PREVIEW_IMAGE_SIDE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=pillow_formats(media_type)) as image:
                width, height = image.size
                if width * height > settings.MEDIA_MAX_IMAGE_PIXELS:
                    raise ImageRefused("too many pixels")
                image.seek(0)
                frame = ImageOps.exif_transpose(image)
                frame = frame.convert("RGBA" if "A" in frame.getbands() else "RGB")
                frame.thumbnail((side, side), Image.Resampling.LANCZOS)
                buffer = io.BytesIO()
                frame.save(buffer, "WEBP", quality=80, method=2)
    except ImageRefused:
        raise
    except Exception as error:  # untrusted bytes: any decoder error is the image's fault
        raise ImageRefused("undecodable") from error
    return PreviewImage(data=buffer.getvalue(), width=frame.width, height=frame.height)
