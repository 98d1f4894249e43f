"""Checks that an uploaded file really is a small image, reading its bytes with Pillow.

The media pipeline replaces this with re-encoding and thumbnails; until then the
declared name and content type are never trusted.
"""

from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from config.errors import DomainError

MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
ALLOWED_FORMATS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}


def verify_image(upload: UploadedFile, *, field: str = "image") -> str:
    """Return the file extension matching the image's real format, or raise DomainError."""

    def invalid(message: str) -> DomainError:
        return DomainError(message, code="invalid_image", fields={field: [message]})

    if upload.size is None or upload.size > MAX_IMAGE_BYTES:
        raise invalid(_("Images must be at most 5 MB."))
    try:
        upload.seek(0)
        with Image.open(upload) as image:
            image_format = image.format
            width, height = image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise invalid(_("This file is not a valid image.")) from None
    finally:
        upload.seek(0)
    if image_format not in ALLOWED_FORMATS:
        raise invalid(_("Use a JPEG, PNG, GIF or WebP image."))
    if width * height > MAX_IMAGE_PIXELS:
        raise invalid(_("This image is too large."))
    return ALLOWED_FORMATS[image_format]
