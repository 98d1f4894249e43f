import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image


def image_upload(name: str = "photo.png", image_format: str = "PNG", size=(8, 8)):
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 90)).save(buffer, format=image_format)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@pytest.fixture
def png():
    return image_upload


@pytest.fixture(autouse=True)
def _media_in_tmp(media_dir, eager_tasks):
    """Every profile test keeps pictures in its own folder and processes them at once."""
