"""The media pipeline end to end: upload over the API, processing, storage, serving."""

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image
from rest_framework.test import APIClient

from community.chat.models import Message
from community.media.models import MediaAsset
from community.media.processing import render_image
from community.media.tasks import process_media_asset
from community.media.types import GIF, JPEG
from community.rooms.models import Room
from community.rooms.services import create_invite
from config.celery import app as celery_app
from tests.community import media_samples
from tests.support.accounts import client_for

UPLOADS_URL = "/api/v1/uploads/"

pytestmark = pytest.mark.usefixtures("media_dir", "eager_tasks")


@pytest.fixture
def upload_response(auth_client, django_capture_on_commit_callbacks):
    def post(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"):
        with django_capture_on_commit_callbacks(execute=True):
            return auth_client.post(
                UPLOADS_URL,
                {"file": SimpleUploadedFile(name, data, content_type=content_type)},
                format="multipart",
            )

    return post


@pytest.fixture
def upload(upload_response, auth_client):
    """Upload, check it was accepted, and return the asset once processing has run."""

    def post(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg") -> dict:
        response = upload_response(data, name, content_type)
        assert response.status_code == 201, response.json()
        assert response.json()["state"] == "pending"
        detail = auth_client.get(f"{UPLOADS_URL}{response.json()['id']}/")
        assert detail.status_code == 200
        return detail.json()

    return post


def stored_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def fetch(client, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, response.content[:200]
    return b"".join(response.streaming_content)


# --- Images ------------------------------------------------------------------------


def test_jpeg_upload_is_processed_into_webp_thumbnails(upload, auth_client, media_dir):
    body = upload(media_samples.jpeg((1600, 1200)))

    assert body["state"] == "ready"
    assert body["kind"] == "image"
    assert body["content_type"] == "image/jpeg"
    assert (body["width"], body["height"]) == (1600, 1200)
    sizes = {size: (t["width"], t["height"]) for size, t in body["thumbnails"].items()}
    assert sizes == {"320": (320, 240), "720": (720, 540), "1280": (1280, 960)}
    assert body["placeholder"].startswith("data:image/webp;base64,")
    assert len(body["placeholder"]) < 1000

    thumbnail = Image.open(io.BytesIO(fetch(auth_client, body["thumbnails"]["720"]["url"])))
    assert thumbnail.format == "WEBP"
    assert thumbnail.size == (720, 540)
    original = Image.open(io.BytesIO(fetch(auth_client, body["url"])))
    assert original.size == (1600, 1200)

    detail = auth_client.get(f"{UPLOADS_URL}{body['id']}/")
    assert detail.status_code == 200
    assert detail.json()["thumbnails"] == body["thumbnails"]


def test_small_image_is_never_upscaled(upload, media_dir):
    body = upload(media_samples.png((300, 200)), name="small.png")

    assert body["state"] == "ready"
    assert {t["width"] for t in body["thumbnails"].values()} == {300}
    # One file serves all three sizes (plus the full rendition).
    assert len(stored_files(media_dir)) == 2


def test_gps_exif_is_stripped_from_every_stored_file(upload, media_dir):
    sample = media_samples.jpeg_with_gps()
    assert Image.open(io.BytesIO(sample)).getexif().get_ifd(0x8825)  # the sample has GPS

    body = upload(sample)

    assert body["state"] == "ready"
    files = stored_files(media_dir)
    assert len(files) == 4  # full rendition + three thumbnails; the upload itself is gone
    for path in files:
        image = Image.open(path)
        assert image.format == "WEBP"
        assert not image.getexif()
        assert "exif" not in image.info and "xmp" not in image.info
        assert b"MoimCam" not in path.read_bytes()


def test_exif_orientation_is_applied_so_the_photo_is_stored_upright(upload, auth_client):
    body = upload(media_samples.rotated_jpeg())

    assert (body["width"], body["height"]) == (200, 400)
    assert (body["thumbnails"]["320"]["width"], body["thumbnails"]["320"]["height"]) == (160, 320)
    thumbnail = Image.open(io.BytesIO(fetch(auth_client, body["thumbnails"]["320"]["url"])))
    assert thumbnail.size == (160, 320)
    # The blue marker drawn top-left of the sideways pixels is top-right once upright.
    red, _green, blue = thumbnail.convert("RGB").getpixel((150, 10))
    assert blue > 200 and red < 60


def test_large_photo_is_stored_capped_upright_and_without_exif(
    upload_response, upload, auth_client, media_dir, settings
):
    settings.MEDIA_MAX_STORED_SIDE = 2048
    exif = media_samples.gps_exif()
    exif[ExifTags.Base.Orientation] = 6
    sample = media_samples.jpeg((4000, 3000), exif=exif)  # upright: 3000×4000

    pending = upload_response(sample).json()
    assert (pending["width"], pending["height"]) == (1536, 2048)  # the size it will have
    body = upload(sample)

    assert body["state"] == "ready"
    assert (body["width"], body["height"]) == (1536, 2048)
    original = Image.open(io.BytesIO(fetch(auth_client, body["url"])))
    assert original.size == (1536, 2048)
    # The blue marker drawn top-left of the sideways pixels is top-right once upright.
    red, _green, blue = original.convert("RGB").getpixel((1500, 30))
    assert blue > 200 and red < 60
    sizes = {size: (t["width"], t["height"]) for size, t in body["thumbnails"].items()}
    assert sizes == {"320": (240, 320), "720": (540, 720), "1280": (960, 1280)}
    files = stored_files(media_dir)
    assert len(files) == 8  # two assets: full rendition + three thumbnails each
    for path in files:
        image = Image.open(path)
        assert max(image.size) <= 2048
        assert not image.getexif() and "exif" not in image.info and "xmp" not in image.info
        assert b"MoimCam" not in path.read_bytes()


@pytest.mark.parametrize(
    ("max_side", "expected"), [(1000, (1000, 750)), (0, (4000, 3000)), (None, (4000, 3000))]
)
def test_the_stored_side_cap_is_exact_and_can_be_turned_off(max_side, expected):
    # 4000×3000 is decoded at reduced scale under a 1000 cap (DCT scaling), never below it.
    result = render_image(
        io.BytesIO(media_samples.jpeg((4000, 3000))),
        media_type=JPEG,
        sizes=(320,),
        max_pixels=50_000_000,
        max_frames=10,
        max_side=max_side,
    )

    assert (result.width, result.height) == expected
    assert Image.open(io.BytesIO(result.full.data)).size == expected
    assert (result.thumbnails[320].width, result.thumbnails[320].height) == (320, 240)


def test_the_cap_applies_to_every_frame_of_an_animation():
    result = render_image(
        io.BytesIO(media_samples.animated_gif(frames=3, size=(64, 48))),
        media_type=GIF,
        sizes=(320, 16),
        max_pixels=50_000_000,
        max_frames=10,
        max_side=32,
    )

    assert result.is_animated and (result.width, result.height) == (32, 24)
    full = Image.open(io.BytesIO(result.full.data))
    assert full.size == (32, 24) and full.n_frames == 3
    assert Image.open(io.BytesIO(result.thumbnails[16].data)).n_frames == 3
    assert result.placeholder.startswith("data:image/webp;base64,")


def test_the_upright_size_is_known_before_processing(upload_response):
    pending = upload_response(media_samples.rotated_jpeg()).json()

    assert pending["state"] == "pending"
    assert (pending["width"], pending["height"]) == (200, 400)
    assert pending["placeholder"].startswith("data:image/webp;base64,")
    bomb = upload_response(media_samples.decompression_bomb(), name="bomb.png").json()
    assert bomb["state"] == "pending" and bomb["width"] is None and bomb["placeholder"] == ""


def test_animated_gif_stays_animated(upload, auth_client):
    body = upload(media_samples.animated_gif(frames=3), name="dance.gif")

    assert body["state"] == "ready"
    assert body["content_type"] == "image/gif"
    assert body["is_animated"] is True
    thumbnail = Image.open(io.BytesIO(fetch(auth_client, body["thumbnails"]["320"]["url"])))
    assert thumbnail.format == "WEBP"
    assert getattr(thumbnail, "n_frames", 1) == 3


@pytest.mark.parametrize(
    ("format_name", "content_type"),
    [("WEBP", "image/webp"), ("AVIF", "image/avif"), ("HEIF", "image/heic")],
)
def test_webp_avif_and_heic_are_decoded(upload, format_name, content_type):
    body = upload(media_samples.encoded(format_name, (500, 400)), name="x.bin")

    assert body["content_type"] == content_type
    assert body["state"] == "ready", body["failure_reason"]
    assert (body["width"], body["height"]) == (500, 400)


def test_decompression_bomb_ends_failed_with_a_reason(upload, media_dir):
    body = upload(media_samples.decompression_bomb(), name="bomb.png")

    assert body["state"] == "failed"
    assert "pixels" in body["failure_reason"]
    assert body["thumbnails"] == {}
    assert stored_files(media_dir) == []


def test_image_over_the_pixel_limit_is_refused(upload, settings):
    settings.MEDIA_MAX_IMAGE_PIXELS = 100 * 100

    body = upload(media_samples.png((200, 200)), name="big.png")

    assert body["state"] == "failed"
    assert "200×200" in body["failure_reason"]


def test_truncated_jpeg_ends_failed(upload, media_dir):
    body = upload(media_samples.truncated_jpeg())

    assert body["state"] == "failed"
    assert "truncated" in body["failure_reason"]
    assert body["url"] is None
    assert stored_files(media_dir) == []  # a failed upload keeps nothing (nor its EXIF)


def test_type_comes_from_the_bytes_not_the_name(upload):
    body = upload(media_samples.png(), name="holiday.jpg", content_type="image/jpeg")

    assert body["content_type"] == "image/png"
    assert body["state"] == "ready"


@pytest.mark.parametrize(
    ("data", "name", "content_type"),
    [
        (media_samples.HTML, "cute-cat.png", "image/png"),
        (media_samples.SVG, "logo.svg", "image/svg+xml"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "scan.jpg", "image/jpeg"),
    ],
)
def test_anything_else_is_refused_with_415(upload_response, media_dir, data, name, content_type):
    response = upload_response(data, name=name, content_type=content_type)

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert "file" in response.json()["error"]["fields"]
    assert not MediaAsset.objects.exists()
    assert stored_files(media_dir) == []


def test_empty_or_missing_file_is_a_400(auth_client):
    response = auth_client.post(UPLOADS_URL, {}, format="multipart")

    assert response.status_code == 400
    assert "file" in response.json()["error"]["fields"]


def test_oversize_file_is_refused_with_413(upload_response, settings, media_dir):
    settings.MEDIA_IMAGE_MAX_BYTES = 1000

    response = upload_response(media_samples.jpeg((400, 300)))

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"
    assert not MediaAsset.objects.exists()
    assert stored_files(media_dir) == []


def test_uploads_need_an_account_and_are_private_to_their_owner(upload, make_user):
    anonymous = APIClient().post(
        UPLOADS_URL,
        {"file": SimpleUploadedFile("a.png", media_samples.png())},
        format="multipart",
    )
    assert anonymous.status_code in (401, 403)

    asset_id = upload(media_samples.png(), name="a.png")["id"]
    stranger = client_for(make_user())

    assert stranger.get(f"{UPLOADS_URL}{asset_id}/").status_code == 404


def test_processing_is_idempotent_and_tolerates_deleted_rows(upload, media_dir):
    asset_id = upload(media_samples.png(), name="a.png")["id"]
    files = stored_files(media_dir)

    assert process_media_asset.delay(asset_id).get() is None  # already ready: nothing done
    assert stored_files(media_dir) == files
    assert MediaAsset.objects.get(pk=asset_id).attempts == 1

    MediaAsset.objects.filter(pk=asset_id).delete()
    assert process_media_asset.delay(asset_id).get() is None


# --- Video -------------------------------------------------------------------------


def ffprobe_tags(path: Path) -> dict:
    ffprobe = shutil.which("ffprobe")
    output = subprocess.run(
        [ffprobe, "-v", "error", "-show_entries", "format_tags", "-of", "json", str(path)],
        capture_output=True,
        check=True,
    ).stdout
    return json.loads(output).get("format", {}).get("tags", {})


@pytest.mark.slow
def test_video_gets_poster_duration_and_loses_its_location(
    upload, auth_client, media_dir, tmp_path
):
    sample = media_samples.video(tmp_path, seconds=2)
    assert "location" in ffprobe_tags(tmp_path / "sample.mp4")

    body = upload(sample, name="clip.mov", content_type="video/quicktime")

    assert body["state"] == "ready", body["failure_reason"]
    assert body["kind"] == "video"
    assert body["content_type"] == "video/mp4"
    assert body["duration"] == pytest.approx(2.0, abs=0.15)
    assert (body["width"], body["height"]) == (320, 240)
    assert body["placeholder"].startswith("data:image/webp")
    poster = Image.open(io.BytesIO(fetch(auth_client, body["poster_url"])))
    assert poster.format == "WEBP" and poster.size == (320, 240)
    video_bytes = fetch(auth_client, body["url"])
    assert video_bytes[4:8] == b"ftyp"
    [stored_video] = [p for p in stored_files(media_dir) if p.suffix == ".mp4"]
    tags = ffprobe_tags(stored_video)
    assert "location" not in tags and "title" not in tags


@pytest.mark.slow
@pytest.mark.parametrize(
    ("extension", "content_type"), [("webm", "video/webm"), ("mov", "video/quicktime")]
)
def test_webm_and_mov_videos(upload, auth_client, tmp_path, extension, content_type):
    body = upload(media_samples.video(tmp_path, seconds=1, extension=extension), name="x.mp4")

    assert body["content_type"] == content_type
    assert body["state"] == "ready", body["failure_reason"]
    assert body["duration"] == pytest.approx(1.0, abs=0.15)
    assert fetch(auth_client, body["poster_url"])[:4] == b"RIFF"


def test_video_without_ffmpeg_ends_failed_with_a_clear_reason(upload, settings, tmp_path):
    settings.MEDIA_FFMPEG = "moim-no-such-ffmpeg"

    body = upload(media_samples.video(tmp_path, seconds=1), name="clip.mp4")

    assert body["state"] == "failed"
    assert "ffmpeg" in body["failure_reason"]


def test_video_size_limit_is_separate_from_images(upload_response, settings, tmp_path):
    settings.MEDIA_VIDEO_MAX_BYTES = 1000
    settings.MEDIA_IMAGE_MAX_BYTES = 10**9

    response = upload_response(media_samples.video(tmp_path, seconds=1), name="clip.mp4")

    assert response.status_code == 413


# --- Messages and privacy ----------------------------------------------------------


def messages_url(room) -> str:
    return f"/api/v1/rooms/{room.pk}/messages/"


@pytest.fixture
def room_listener(layer_listener):
    """``room_listener(room)``: a channel-layer listener in the room's group."""
    return lambda room: layer_listener(room.group_name)


def join_private(room, user, make_member):
    """Private rooms are joined through a host's invite link."""
    from community.rooms.services import create_invite

    invite = create_invite(room_id=room.pk, actor=room.owner)
    return make_member(room, user, invite_code=invite.code)


@pytest.fixture
def private_room(make_room, user, make_member):
    room = make_room(visibility=Room.Visibility.PRIVATE)
    # Private rooms admit people by invite only (community/rooms/services.py).
    invite = create_invite(room_id=room.pk, actor=room.owner)
    make_member(room, user, invite_code=invite.code)
    return room


def test_image_message_appears_at_once_then_updates_when_ready(
    auth_client, private_room, room_listener, django_capture_on_commit_callbacks
):
    listener = room_listener(private_room)

    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(
            messages_url(private_room),
            {
                "file": SimpleUploadedFile("p.jpg", media_samples.jpeg((640, 480))),
                "body": "  sunset  ",
                "client_id": "c-1",
            },
            format="multipart",
        )

    assert response.status_code == 201, response.json()
    message = response.json()
    assert message["kind"] == "image"
    assert message["body"] == "sunset"
    created, updated = listener.events()
    assert created["type"] == "message.created"
    assert created["message"]["media"]["state"] == "pending"
    assert created["message"]["media"]["thumbnails"] == {}
    # Shown at once: the shape and a placeholder (JPEG: decoded at 1/8 scale on upload).
    assert (created["message"]["media"]["width"], created["message"]["media"]["height"]) == (
        640,
        480,
    )
    assert created["message"]["media"]["placeholder"].startswith("data:image/webp;base64,")
    assert updated["type"] == "message.updated"
    assert updated["message"]["id"] == message["id"]
    assert updated["message"]["media"]["state"] == "ready"
    assert updated["message"]["media"]["placeholder"].startswith("data:image/webp")
    assert updated["message"]["media"]["thumbnails"]["320"]["width"] == 320

    # A retried send (same client_id) is stored once.
    with django_capture_on_commit_callbacks(execute=True):
        again = auth_client.post(
            messages_url(private_room),
            {"file": SimpleUploadedFile("p.jpg", media_samples.jpeg((64, 48))), "client_id": "c-1"},
            format="multipart",
        )
    assert again.status_code == 200
    assert again.json()["id"] == message["id"]
    assert Message.objects.filter(room=private_room).count() == 1
    assert MediaAsset.objects.count() == 1


@pytest.mark.slow
def test_video_message(auth_client, private_room, tmp_path, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(
            messages_url(private_room),
            {"file": SimpleUploadedFile("v.mp4", media_samples.video(tmp_path, seconds=1))},
            format="multipart",
        )

    assert response.status_code == 201
    message = Message.objects.select_related("media").get(pk=response.json()["id"])
    assert message.kind == Message.Kind.VIDEO
    assert message.media.state == MediaAsset.State.READY
    assert message.media.poster_name


def test_private_room_media_is_only_served_to_members(
    auth_client, private_room, make_user, make_member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(
            messages_url(private_room),
            {"file": SimpleUploadedFile("p.png", media_samples.png())},
            format="multipart",
        )
    asset_id = response.json()["media"]["id"]
    signed_url = auth_client.get(f"{UPLOADS_URL}{asset_id}/").json()["thumbnails"]["320"]["url"]
    plain_url = signed_url.split("?")[0]
    assert "signature=" in signed_url

    stranger = client_for(make_user())
    refused = stranger.get(plain_url)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert APIClient().get(plain_url).status_code == 403
    assert APIClient().get(plain_url + "?expires=9999999999&signature=forged").status_code == 403
    assert (
        stranger.post(
            messages_url(private_room),
            {"file": SimpleUploadedFile("p.png", media_samples.png())},
            format="multipart",
        ).status_code
        == 403
    )

    member = client_for(make_user())
    invite = create_invite(room_id=private_room.pk, actor=private_room.owner)
    make_member(private_room, member.handler._force_user, invite_code=invite.code)
    assert fetch(member, plain_url)[:4] == b"RIFF"
    # The signed URL works without an account until it expires (for <img> and apps).
    assert fetch(APIClient(), signed_url)[:4] == b"RIFF"


def test_public_room_media_is_served_to_anyone(
    auth_client, make_room, user, make_member, django_capture_on_commit_callbacks
):
    room = make_room()
    make_member(room, user)
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(
            messages_url(room),
            {"file": SimpleUploadedFile("p.png", media_samples.png())},
            format="multipart",
        )
    asset_id = response.json()["media"]["id"]
    url = auth_client.get(f"{UPLOADS_URL}{asset_id}/").json()["thumbnails"]["720"]["url"]

    assert "signature" not in url
    assert fetch(APIClient(), url)[:4] == b"RIFF"
    assert APIClient().get(url.replace("/720/", "/9999/")).status_code == 404


def test_upload_past_every_limit_is_cut_off_while_reading(upload_response, settings, media_dir):
    settings.MEDIA_IMAGE_MAX_BYTES = 2000
    settings.MEDIA_VIDEO_MAX_BYTES = 3000

    response = upload_response(media_samples.jpeg((800, 600)))

    assert response.status_code == 413
    # Refused by the upload handler (no kind known yet), not after sniffing the bytes.
    assert response.json()["error"]["message"].startswith("The file is too large: uploads")
    assert not MediaAsset.objects.exists()
    assert stored_files(media_dir) == []


# --- Avatars, backgrounds, covers, status posts -------------------------------------


def use(client, asset_id: int, target: str, target_id: int | None = None):
    return client.post(
        f"{UPLOADS_URL}{asset_id}/use/", {"target": target, "target_id": target_id}, format="json"
    )


def test_an_upload_becomes_avatar_and_background(upload, auth_client, user):
    avatar = upload(media_samples.jpeg((900, 900)))
    background = upload(media_samples.png((1600, 400), mode="RGB"), name="bg.png")

    response = use(auth_client, avatar["id"], "avatar")
    assert response.status_code == 200
    assert response.json()["media"]["thumbnails"]["320"]["width"] == 320
    assert use(auth_client, background["id"], "background").status_code == 200

    user.profile.refresh_from_db()
    assert user.profile.avatar_media_id == avatar["id"]
    assert user.profile.background_media_id == background["id"]


def test_only_own_ready_images_can_be_used(upload, auth_client, make_user, tmp_path, settings):
    stranger = client_for(make_user())
    image = upload(media_samples.png(), name="a.png")
    broken = upload(media_samples.truncated_jpeg())
    settings.MEDIA_FFMPEG = "moim-no-such-ffmpeg"
    clip = upload(media_samples.video(tmp_path, seconds=1), name="clip.mp4")

    assert use(stranger, image["id"], "avatar").status_code == 404
    refused = use(auth_client, broken["id"], "avatar")
    assert refused.status_code == 400
    assert "truncated" in refused.json()["error"]["message"]
    assert use(auth_client, clip["id"], "avatar").status_code == 400
    assert use(auth_client, image["id"], "wallpaper").status_code == 400


def test_room_cover_is_set_by_hosts_and_private_covers_stay_private(
    upload, auth_client, user, make_room, make_user, make_member
):
    room = make_room(owner=user, visibility=Room.Visibility.PRIVATE)
    cover = upload(media_samples.jpeg((1280, 720)))

    response = use(auth_client, cover["id"], "room_cover", room.pk)

    assert response.status_code == 200
    room.refresh_from_db()
    assert room.cover_media_id == cover["id"]
    plain_url = response.json()["media"]["thumbnails"]["720"]["url"].split("?")[0]
    assert APIClient().get(plain_url).status_code == 403

    member = APIClient()
    member_user = make_user()
    member.force_authenticate(member_user)
    invite = create_invite(room_id=room.pk, actor=room.owner)
    make_member(room, member_user, invite_code=invite.code)
    other = upload(media_samples.png(), name="b.png")
    own_upload = member.post(
        UPLOADS_URL,
        {"file": SimpleUploadedFile("c.png", media_samples.png())},
        format="multipart",
    ).json()
    assert use(member, own_upload["id"], "room_cover", room.pk).status_code == 403
    assert use(auth_client, other["id"], "room_cover", room.pk + 999).status_code == 403


def test_status_post_image(upload, auth_client, user, make_user):
    from profiles.models import StatusPost

    post = StatusPost.objects.create(author=user, body="At the lake")
    someone_elses = StatusPost.objects.create(author=make_user(), body="Not yours")
    image = upload(media_samples.jpeg_with_gps())

    assert use(auth_client, image["id"], "status_post", post.pk).status_code == 200
    assert use(auth_client, image["id"], "status_post", someone_elses.pk).status_code == 404
    post.refresh_from_db()
    assert post.image_media_id == image["id"]


def test_chat_page_loads_the_media_client_which_never_parses_html():
    from django.conf import settings as django_settings

    static = Path(django_settings.BASE_DIR) / "static"
    script = (static / "js" / "media.js").read_text()
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script
    chat = (static / "js" / "chat.js").read_text()
    assert "window.MoimMedia.renderMedia(node, message)" in chat
    assert "window.MoimMedia.attach(" in chat
    template = (
        Path(django_settings.BASE_DIR) / "templates/community/includes/chat.html"
    ).read_text()
    assert "js/media.js" in template and "data-media-input" in template


def test_history_with_media_messages_runs_a_fixed_number_of_queries(
    auth_client,
    private_room,
    make_user,
    make_member,
    django_capture_on_commit_callbacks,
    django_assert_max_num_queries,
    settings,
):
    # Image messages count towards flood protection like text ones; this test sends 33.
    settings.MODERATION_FLOOD_MESSAGES = 100
    member = APIClient()
    member_user = make_user()
    member.force_authenticate(member_user)
    invite = create_invite(room_id=private_room.pk, actor=private_room.owner)
    make_member(private_room, member_user, invite_code=invite.code)

    def post_images(count: int):
        for number in range(count):
            sender = (auth_client, member)[number % 2]
            with django_capture_on_commit_callbacks(execute=True):
                response = sender.post(
                    messages_url(private_room),
                    {"file": SimpleUploadedFile("p.png", media_samples.png((40, 30)))},
                    format="multipart",
                )
            assert response.status_code == 201

    post_images(3)
    # + 1 for the messages' reaction summaries (community/reactions/selectors.py), + 1 for
    # the read markers behind the read counts (community/reads/selectors.py).
    with django_assert_max_num_queries(2 + 1 + 1) as small:
        page = member.get(messages_url(private_room)).json()["results"]
    assert len(page) == 3 and all(m["media"]["state"] == "ready" for m in page)
    post_images(30)
    with django_assert_max_num_queries(2 + 1 + 1) as large:
        page = member.get(messages_url(private_room)).json()["results"]
    assert len(page) == 33
    assert all("signature=" in m["media"]["thumbnails"]["320"]["url"] for m in page)
    assert len(small.captured_queries) == len(large.captured_queries)


# --- Admin ---------------------------------------------------------------------------


@pytest.fixture
def admin_client_logged_in(client, make_user):
    admin = make_user("moderator")
    admin.is_staff = admin.is_superuser = True
    admin.save(update_fields=["is_staff", "is_superuser"])
    client.force_login(admin)
    return client


def test_admin_changelist_runs_a_fixed_number_of_queries(
    upload, admin_client_logged_in, django_assert_max_num_queries
):
    changelist = "/admin/community/mediaasset/"
    for _ in range(3):
        upload(media_samples.png((40, 30)), name="a.png")
    with django_assert_max_num_queries(12) as small:
        response = admin_client_logged_in.get(changelist)
    assert response.status_code == 200
    assert response.content.count(b"/api/v1/media/") == 3
    for _ in range(27):
        upload(media_samples.png((40, 30)), name="a.png")
    with django_assert_max_num_queries(12) as large:
        assert admin_client_logged_in.get(changelist).status_code == 200
    assert len(small.captured_queries) == len(large.captured_queries)


def test_moderator_takes_media_down(
    auth_client,
    private_room,
    admin_client_logged_in,
    room_listener,
    media_dir,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(
            messages_url(private_room),
            {"file": SimpleUploadedFile("p.jpg", media_samples.jpeg((640, 480)))},
            format="multipart",
        )
    asset_id = response.json()["media"]["id"]
    url = auth_client.get(f"{UPLOADS_URL}{asset_id}/").json()["thumbnails"]["320"]["url"]
    assert stored_files(media_dir)
    listener = room_listener(private_room)

    with django_capture_on_commit_callbacks(execute=True):
        taken = admin_client_logged_in.post(
            "/admin/community/mediaasset/",
            {"action": "take_down", "_selected_action": [asset_id]},
        )

    assert taken.status_code == 302
    assert stored_files(media_dir) == []
    [event] = listener.events()
    assert event["type"] == "message.updated"
    assert event["message"]["media"]["state"] == "failed"
    assert event["message"]["media"]["failure_reason"] == "Removed by a moderator."
    assert auth_client.get(url).status_code == 404


def test_uploads_are_throttled_per_user(upload_response, throttle_rates):
    throttle_rates(uploads="2/min")
    statuses = [upload_response(media_samples.png(), name="a.png").status_code for _ in range(3)]
    assert statuses == [201, 201, 429]


def test_media_view_answers_byte_ranges_for_seeking(upload, auth_client):
    url = upload(media_samples.jpeg((800, 600)))["url"]
    whole = fetch(auth_client, url)

    first = auth_client.get(url, HTTP_RANGE="bytes=0-99")
    assert first.status_code == 206
    assert first["Content-Range"] == f"bytes 0-99/{len(whole)}"
    assert b"".join(first.streaming_content) == whole[:100]
    tail = auth_client.get(url, HTTP_RANGE="bytes=-10")
    assert b"".join(tail.streaming_content) == whole[-10:]
    middle = auth_client.get(url, HTTP_RANGE="bytes=100-")
    assert b"".join(middle.streaming_content) == whole[100:]
    beyond = auth_client.get(url, HTTP_RANGE=f"bytes={len(whole)}-")
    assert beyond.status_code == 416
    assert beyond["Content-Range"] == f"bytes */{len(whole)}"
    plain = auth_client.get(url)
    assert plain["Accept-Ranges"] == "bytes"
    assert "sandbox" in plain["Content-Security-Policy"]


def test_media_is_streamed_in_chunks_over_asgi(upload, auth_client, user, monkeypatch):
    """Through the ASGI handler the file is read chunk by chunk by an async iterator:
    Django would otherwise read a sync iterator into memory whole before sending."""
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    from community.media.api import views as media_api

    monkeypatch.setattr(media_api, "_RANGE_CHUNK", 4096)
    url = upload(media_samples.jpeg((1600, 1200)))["url"]
    whole = fetch(auth_client, url)
    assert len(whole) > 3 * 4096  # several chunks

    async def get(**headers):
        client = AsyncClient()
        await client.aforce_login(user)
        response = await client.get(url, headers=headers)
        assert response.is_async  # an async iterator, never consumed into a list
        return response, b"".join([chunk async for chunk in response.streaming_content])

    response, body = async_to_sync(get)()
    assert response.status_code == 200
    assert body == whole
    assert response["Content-Length"] == str(len(whole))
    response, body = async_to_sync(get)(Range="bytes=10-9009")
    assert response.status_code == 206
    assert body == whole[10:9010]
    assert response["Content-Range"] == f"bytes 10-9009/{len(whole)}"


# --- Upkeep ---------------------------------------------------------------------------


def test_sweep_requeues_stuck_uploads_and_deletes_unused_ones(
    upload, auth_client, user, media_dir, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.core.files.base import ContentFile
    from django.core.files.storage import storages
    from django.utils import timezone

    from community.media.tasks import sweep_media_assets

    long_ago = timezone.now() - timedelta(days=3)
    used = upload(media_samples.png(), name="avatar.png")
    assert use(auth_client, used["id"], "avatar").status_code == 200
    unused = upload(media_samples.png(), name="forgotten.png")
    fresh = upload(media_samples.png(), name="just-now.png")
    # A lost broker message: the row says pending, nothing is processing it.
    name = storages["media"].save("assets/stuck/upload.jpg", ContentFile(media_samples.jpeg()))
    stuck = MediaAsset.objects.create(
        owner=user, kind="image", content_type="image/jpeg", original_name=name
    )
    MediaAsset.objects.create(  # stuck again and again: given up on
        owner=user,
        kind="image",
        content_type="image/jpeg",
        original_name=storages["media"].save("assets/hopeless/upload.jpg", ContentFile(b"x")),
        attempts=5,
    )
    MediaAsset.objects.exclude(pk=fresh["id"]).update(created_at=long_ago)

    with django_capture_on_commit_callbacks(execute=True):
        counts = sweep_media_assets.delay().get()

    # Deleted: the forgotten upload and the one that just failed for good.
    assert counts == {"requeued": 1, "failed": 1, "deleted": 2}
    remaining = set(MediaAsset.objects.values_list("pk", flat=True))
    assert remaining == {used["id"], fresh["id"], stuck.pk}
    stuck.refresh_from_db()
    assert stuck.state == "ready"
    kept = " ".join(str(path) for path in stored_files(media_dir))
    assert used["url"].split("/")[4] in kept  # /api/v1/media/<key>/original/
    assert unused["url"].split("/")[4] not in kept
    assert "hopeless" not in kept


def test_storage_errors_are_retried_then_the_asset_ends_failed(
    auth_client, user, media_dir, django_capture_on_commit_callbacks
):
    from django.core.files.storage import storages

    with django_capture_on_commit_callbacks(execute=False):
        created = auth_client.post(
            UPLOADS_URL,
            {"file": SimpleUploadedFile("p.png", media_samples.png())},
            format="multipart",
        ).json()
    asset = MediaAsset.objects.get(pk=created["id"])
    storages["media"].delete(asset.original_name)  # the disk or bucket lost it

    # Eager retries re-run at once; let each attempt record its failure, not raise.
    propagates = celery_app.conf.task_eager_propagates
    celery_app.conf.task_eager_propagates = False
    try:
        result = process_media_asset.apply(args=[asset.pk])
    finally:
        celery_app.conf.task_eager_propagates = propagates

    assert isinstance(result.result, FileNotFoundError)
    asset.refresh_from_db()
    assert asset.attempts == 1 + process_media_asset.max_retries
    assert asset.state == "failed"
    assert asset.failure_reason == "Processing failed; please upload the file again."


# --- Two-step flow: upload first, then send -------------------------------------------


def test_an_earlier_upload_is_sent_as_a_message_by_media_id(
    upload, auth_client, private_room, make_user, room_listener, django_capture_on_commit_callbacks
):
    asset = upload(media_samples.jpeg((640, 480)))
    listener = room_listener(private_room)

    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(
            messages_url(private_room),
            {"media_id": asset["id"], "body": "from my phone", "client_id": "m-1"},
            format="json",
        )

    assert response.status_code == 201, response.json()
    message = response.json()
    assert message["kind"] == "image" and message["body"] == "from my phone"
    assert message["media"]["state"] == "ready"
    [created] = listener.events()
    assert created["type"] == "message.created"
    assert created["message"]["media"]["thumbnails"]["320"]["width"] == 320
    # The upload joined the private room: its plain URL is members-only now.
    plain_url = message["media"]["thumbnails"]["320"]["url"].split("?")[0]
    stranger = client_for(make_user())
    assert stranger.get(plain_url).status_code == 403
    again = auth_client.post(
        messages_url(private_room), {"media_id": asset["id"], "client_id": "m-1"}, format="json"
    )
    assert again.status_code == 200 and again.json()["id"] == message["id"]


def test_media_id_must_be_an_own_usable_upload(
    upload, auth_client, user, private_room, make_room, make_member, make_user
):
    other_room = make_room()
    make_member(other_room, user)
    stranger = APIClient()
    stranger_user = make_user()
    stranger.force_authenticate(stranger_user)
    invite = create_invite(room_id=private_room.pk, actor=private_room.owner)
    make_member(private_room, stranger_user, invite_code=invite.code)
    mine = upload(media_samples.png(), name="a.png")
    broken = upload(media_samples.truncated_jpeg())
    avatar = upload(media_samples.png(), name="me.png")
    assert use(auth_client, avatar["id"], "avatar").status_code == 200

    def send(client, media_id, room=private_room):
        return client.post(messages_url(room), {"media_id": media_id}, format="json")

    assert send(stranger, mine["id"]).status_code == 404
    assert send(auth_client, broken["id"]).status_code == 400
    # A public avatar must not turn members-only by being posted in a private room.
    assert send(auth_client, avatar["id"]).status_code == 400
    assert send(auth_client, mine["id"]).status_code == 201
    assert send(auth_client, mine["id"], room=other_room).status_code == 400
    assert Message.objects.filter(room=other_room).count() == 0


def test_deleting_a_room_deletes_its_media_files(
    auth_client, make_room, user, make_member, media_dir, django_capture_on_commit_callbacks
):
    room = make_room()
    make_member(room, user)
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(
            messages_url(room),
            {"file": SimpleUploadedFile("p.jpg", media_samples.jpeg((900, 700)))},
            format="multipart",
        )
    assert response.status_code == 201
    assert len(stored_files(media_dir)) == 4

    with django_capture_on_commit_callbacks(execute=True):
        room.delete()

    assert not MediaAsset.objects.exists()
    assert stored_files(media_dir) == []


def test_the_web_page_path_session_and_csrf(
    user, private_room, settings, django_capture_on_commit_callbacks
):
    """What static/js/media.js sends: multipart with the session cookie and X-CSRFToken."""
    from django.middleware.csrf import get_token
    from django.test import RequestFactory

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    token = get_token(RequestFactory().get("/"))
    client.cookies[settings.CSRF_COOKIE_NAME] = token
    form = {"file": SimpleUploadedFile("p.png", media_samples.png()), "body": "hi"}

    refused = client.post(messages_url(private_room), form, format="multipart")
    assert refused.status_code == 403  # no CSRF header
    form["file"].seek(0)
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(
            messages_url(private_room), form, format="multipart", HTTP_X_CSRFTOKEN=token
        )
    assert sent.status_code == 201, sent.json()
    assert sent.json()["kind"] == "image"
