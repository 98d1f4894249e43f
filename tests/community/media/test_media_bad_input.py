"""Bytes that only pretend to be an image are refused at upload (4xx, nothing stored);
whatever the decoder raises later ends the asset ``failed``, never stuck; a file gone
from storage answers 404."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from community.media.models import MediaAsset
from community.media.services import media_storage
from community.media.tasks import process_media_asset
from tests.community import media_samples

pytestmark = pytest.mark.usefixtures("media_dir", "eager_tasks")

UPLOADS_URL = "/api/v1/uploads/"
# A JPEG signature followed by HTML: 41 bytes. Pillow 13 has no MPO opener, so asking
# it for "JPEG or MPO" raised KeyError('MPO') and a 500.
FAKE_JPEG = b"\xff\xd8\xff" + b"<html><script>alert(1)</script></html>\n"[:38]


def _upload(client, data: bytes, name="photo.jpg", content_type="image/jpeg"):
    return client.post(
        UPLOADS_URL,
        {"file": SimpleUploadedFile(name, data, content_type=content_type)},
        format="multipart",
    )


def _stored(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def test_a_jpeg_signature_followed_by_html_is_refused_and_nothing_is_stored(
    auth_client, media_dir, django_capture_on_commit_callbacks
):
    assert len(FAKE_JPEG) == 41
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(auth_client, FAKE_JPEG)
    assert response.status_code == 415
    error = response.json()["error"]
    assert error["code"] == "unsupported_media_type"
    assert "JPG" in error["message"]
    assert not MediaAsset.objects.exists()
    assert _stored(media_dir) == []


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "x.png"),
        (b"GIF89a" + b"<svg onload=alert(1)>", "x.gif"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\0" * 8, "x.webp"),
    ],
)
def test_other_signatures_followed_by_junk_are_refused(auth_client, data, name):
    response = _upload(auth_client, data, name=name, content_type="image/png")
    assert response.status_code == 415
    assert not MediaAsset.objects.exists()


def test_the_avatar_form_refuses_it_too(user, client):
    client.force_login(user)
    response = client.post(
        "/settings/profile/",
        {
            "handle": "alice",
            "display_name": "Alice",
            "avatar": SimpleUploadedFile("a.jpg", FAKE_JPEG, content_type="image/jpeg"),
        },
    )
    assert response.status_code == 200
    assert "not a valid JPG image" in response.content.decode()
    assert not MediaAsset.objects.exists()


def test_any_decoder_error_in_the_task_ends_the_asset_failed(
    auth_client, media_dir, django_capture_on_commit_callbacks
):
    # A real JPEG is taken; before the worker runs, its stored bytes turn into ones
    # that only the decoder, not the upload check, can choke on.
    response = _upload(auth_client, media_samples.jpeg((64, 48)))
    assert response.status_code == 201
    asset = MediaAsset.objects.get(pk=response.json()["id"])
    assert asset.state == MediaAsset.State.PENDING
    with media_storage().open(asset.original_name, "wb") as handle:
        handle.write(FAKE_JPEG)

    process_media_asset.delay(asset.pk)

    asset.refresh_from_db()
    assert asset.state == MediaAsset.State.FAILED
    assert asset.failure_reason
    detail = auth_client.get(f"{UPLOADS_URL}{asset.pk}/").json()
    assert detail["state"] == "failed"


def test_a_media_file_missing_from_storage_answers_404(
    auth_client, media_dir, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(auth_client, media_samples.jpeg((64, 48)))
    body = auth_client.get(f"{UPLOADS_URL}{response.json()['id']}/").json()
    assert body["state"] == "ready"
    for path in _stored(media_dir):
        path.unlink()

    missing = auth_client.get(body["url"])
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
