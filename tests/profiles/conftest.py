import pytest

from tests.community.media_samples import image_upload


@pytest.fixture
def png():
    return image_upload


@pytest.fixture(autouse=True)
def _media_in_tmp(media_dir, eager_tasks):
    """Every profile test keeps pictures in its own folder and processes them at once."""
