"""Every picture people upload (avatar, background, status post image, room avatar, room
cover) goes through the media pipeline: what is stored and served is a re-encoded
rendition without EXIF/GPS, read back here over HTTP the way a browser gets it."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image
from rest_framework.test import APIClient

from community.media.models import MediaAsset
from community.media.services import media_storage
from community.rooms.models import Membership, Room
from community.rooms.services import create_room, join_room
from profiles.models import Profile, StatusPost
from tests.community import media_samples
from tests.support.accounts import TEST_PASSWORD, client_for

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"


def gps_jpeg(name: str = "holiday.jpg") -> SimpleUploadedFile:
    data = media_samples.jpeg_with_gps()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the control
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def pdf_named_png() -> SimpleUploadedFile:
    return SimpleUploadedFile("photo.png", b"%PDF-1.7\n%\xe2\xe3\n1 0 obj\n<<>>\nendobj\n")


def text_named_png() -> SimpleUploadedFile:
    return SimpleUploadedFile("photo.png", b"hello, I am not a picture", content_type="image/png")


def fetch_image(client, url: str) -> Image.Image:
    """The bytes a browser gets for ``url``, opened with Pillow."""
    assert url.startswith("/api/v1/media/"), url
    response = client.get(url)
    assert response.status_code == 200, url
    data = b"".join(response.streaming_content) if response.streaming else response.content
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def assert_no_metadata(image: Image.Image) -> None:
    assert image.format == "WEBP"
    exif = image.getexif()
    assert not exif
    assert not exif.get_ifd(ExifTags.IFD.GPSInfo)
    assert "exif" not in image.info and "xmp" not in image.info


def assert_every_stored_file_is_clean(asset: MediaAsset) -> None:
    asset.refresh_from_db()
    assert asset.state == MediaAsset.State.READY, asset.failure_reason
    storage = media_storage()
    for name in asset.stored_names:
        assert not name.rsplit("/", 1)[-1].startswith("upload."), name  # the raw upload went
        with storage.open(name, "rb") as stored:
            assert_no_metadata(Image.open(stored))


@pytest.fixture
def api(user):
    return client_for(user)


@pytest.fixture
def processed(django_capture_on_commit_callbacks):
    """Run a request and the processing queued when its transaction commits."""

    def run(call):
        with django_capture_on_commit_callbacks(execute=True):
            return call()

    return run


# --- Profile avatar and background ----------------------------------------------------------


def test_avatar_and_background_are_served_without_exif(api, user, processed):
    response = processed(
        lambda: api.patch(
            ME, {"avatar": gps_jpeg(), "background": gps_jpeg("bg.jpg")}, format="multipart"
        )
    )
    assert response.status_code == 200, response.json()
    me = api.get(ME).json()
    assert me["avatar_media"]["state"] == "ready"
    avatar = fetch_image(APIClient(), me["avatar"])  # public: anyone may load it
    assert_no_metadata(avatar)
    assert max(avatar.size) <= 320
    assert_no_metadata(fetch_image(APIClient(), me["background"]))
    profile = Profile.objects.select_related("avatar_media", "background_media").get(user=user)
    assert_every_stored_file_is_clean(profile.avatar_media)
    assert_every_stored_file_is_clean(profile.background_media)
    # The public profile shows the same renditions.
    assert api.get("/api/v1/users/alice/").json()["avatar"] == me["avatar"]


def test_avatar_from_the_profile_settings_page(client, user, processed):
    client.force_login(user)
    response = processed(
        lambda: client.post(
            "/settings/profile/",
            {
                "handle": "alice",
                "display_name": "Alice",
                "bio": "",
                "status_message": "",
                "avatar": gps_jpeg(),
            },
        )
    )
    assert response.status_code == 302
    asset = Profile.objects.get(user=user).avatar_media
    assert_every_stored_file_is_clean(asset)
    page = client.get("/u/alice/").content.decode()
    assert f"/api/v1/media/{asset.key}/320/" in page


@pytest.mark.parametrize("upload", [pdf_named_png, text_named_png])
def test_a_non_image_avatar_is_refused_and_nothing_is_written(api, user, upload):
    response = api.patch(ME, {"avatar": upload(), "bio": "changed"}, format="multipart")
    assert response.status_code == 400
    error = response.json()["error"]
    assert "not supported" in error["fields"]["avatar"][0]
    assert not MediaAsset.objects.exists()
    profile = Profile.objects.get(user=user)
    assert profile.avatar_media is None
    assert profile.bio == ""  # all or nothing


def test_pending_avatar_shows_no_broken_link(api, user, client):
    # Without running the on-commit callbacks the asset stays pending.
    response = api.patch(ME, {"avatar": gps_jpeg()}, format="multipart")
    assert response.status_code == 200
    body = response.json()
    assert body["avatar"] == ""
    assert body["avatar_media"]["state"] == "pending"
    assert body["avatar_media"]["url"] is None
    assert body["avatar_media"]["placeholder"].startswith("data:image/webp;base64,")
    client.force_login(user)
    page = client.get("/u/alice/").content.decode()
    assert "/api/v1/media/" not in page
    assert 'src="data:image/webp;base64,' in page  # the blurred placeholder meanwhile


def test_a_failed_avatar_shows_the_empty_avatar(api, user, client, processed):
    # The header reads as a JPEG (so the upload is taken); the pixels are cut off.
    from tests.community.media_samples import truncated_jpeg

    broken = SimpleUploadedFile("a.jpg", truncated_jpeg())
    assert processed(lambda: api.patch(ME, {"avatar": broken}, format="multipart")).status_code
    body = api.get(ME).json()
    assert body["avatar_media"]["state"] == "failed"
    assert body["avatar"] == ""
    client.force_login(user)
    page = client.get("/u/alice/").content.decode()
    assert "/api/v1/media/" not in page
    assert "avatar-placeholder" in page


def test_a_new_avatar_deletes_the_old_one(api, user, processed):
    processed(lambda: api.patch(ME, {"avatar": gps_jpeg()}, format="multipart"))
    old = Profile.objects.get(user=user).avatar_media
    processed(lambda: api.patch(ME, {"avatar": gps_jpeg("new.jpg")}, format="multipart"))
    assert Profile.objects.get(user=user).avatar_media_id != old.pk
    assert not MediaAsset.objects.filter(pk=old.pk).exists()
    assert not any(media_storage().exists(name) for name in old.stored_names)


def test_removing_the_avatar_and_background_through_the_api(api, user, processed):
    processed(
        lambda: api.patch(
            ME, {"avatar": gps_jpeg(), "background": gps_jpeg("bg.jpg")}, format="multipart"
        )
    )
    profile = Profile.objects.select_related("avatar_media", "background_media").get(user=user)
    avatar, background = profile.avatar_media, profile.background_media
    response = processed(lambda: api.patch(ME, {"remove_avatar": True}, format="json"))
    assert response.status_code == 200, response.json()
    assert (response.json()["avatar"], response.json()["avatar_media"]) == ("", None)
    assert response.json()["background"]  # untouched
    assert not MediaAsset.objects.filter(pk=avatar.pk).exists()
    assert not any(media_storage().exists(name) for name in avatar.stored_names)
    # An upload in the same request wins over removing.
    response = processed(
        lambda: api.patch(
            ME,
            {"background": gps_jpeg("new-bg.jpg"), "remove_background": "true"},
            format="multipart",
        )
    )
    assert response.json()["background_media"]["id"] != background.pk
    assert api.get(ME).json()["background_media"]["state"] == "ready"
    assert not MediaAsset.objects.filter(pk=background.pk).exists()
    # Removing what is not there is not an error.
    assert api.patch(ME, {"remove_avatar": True}, format="json").status_code == 200


def test_removing_the_avatar_from_the_settings_page(client, user, processed):
    client.force_login(user)
    form = {"handle": "alice", "display_name": "Alice", "bio": "", "status_message": ""}
    assert "remove_avatar" not in client.get("/settings/profile/").content.decode()
    processed(lambda: client.post("/settings/profile/", {**form, "avatar": gps_jpeg()}))
    page = client.get("/settings/profile/").content.decode()
    assert 'name="remove_avatar"' in page and 'name="remove_background"' not in page
    response = processed(lambda: client.post("/settings/profile/", {**form, "remove_avatar": "on"}))
    assert response.status_code == 302
    assert Profile.objects.get(user=user).avatar_media_id is None
    assert "avatar-placeholder" in client.get("/u/alice/").content.decode()


# --- Status posts --------------------------------------------------------------------------


def test_status_post_image_is_served_without_exif(api, user, processed):
    response = processed(
        lambda: api.post(
            "/api/v1/users/alice/posts/", {"body": "view", "image": gps_jpeg()}, format="multipart"
        )
    )
    assert response.status_code == 201, response.json()
    post = api.get(f"/api/v1/posts/{response.json()['id']}/").json()
    assert post["image_media"]["state"] == "ready"
    assert post["image"].endswith("/1280/")
    assert_no_metadata(fetch_image(APIClient(), post["image"]))
    assert_every_stored_file_is_clean(StatusPost.objects.get().image_media)


def test_a_pdf_as_post_image_is_refused_from_the_web_form(client, user):
    client.force_login(user)
    response = client.post("/posts/new/", {"body": "x", "image": pdf_named_png()}, follow=True)
    assert "This kind of file is not supported" in response.content.decode()
    assert not StatusPost.objects.exists()
    assert not MediaAsset.objects.exists()


# --- Room avatars and covers ---------------------------------------------------------------


@pytest.fixture
def private_room(make_user):
    host = make_user("host")
    return create_room(
        owner=host, title="Secret garden", nickname="gardener", visibility=Room.Visibility.PRIVATE
    )


def _member_of(room, user, nickname="masked-otter"):
    from community.rooms.services import create_invite

    invite = create_invite(room_id=room.pk, actor=room.owner)
    return join_room(room_id=room.pk, user=user, nickname=nickname, invite_code=invite.code)


def test_room_avatar_is_stripped_and_private_to_the_room(
    api, user, make_user, private_room, processed
):
    _member_of(private_room, user)
    url = f"/api/v1/rooms/{private_room.pk}/membership/"
    response = processed(lambda: api.patch(url, {"avatar": gps_jpeg()}, format="multipart"))
    assert response.status_code == 200, response.json()
    membership = Membership.objects.get(room=private_room, user=user)
    asset = membership.avatar_media
    assert asset.room_id == private_room.pk
    assert_every_stored_file_is_clean(asset)

    members = api.get(f"/api/v1/rooms/{private_room.pk}/members/").json()["results"]
    avatar = next(m["avatar"] for m in members if m["id"] == membership.pk)
    assert "signature=" in avatar  # a member's <img> loads it without a session
    assert_no_metadata(fetch_image(api, avatar))
    # Without the signature only members get it.
    bare = avatar.split("?", 1)[0]
    outsider = client_for(make_user("outsider"))
    assert outsider.get(bare).status_code == 403
    assert api.get(bare).status_code == 200


def test_room_avatar_never_reuses_the_main_profile_picture(api, user, private_room, processed):
    processed(lambda: api.patch(ME, {"avatar": gps_jpeg()}, format="multipart"))
    profile_asset = Profile.objects.get(user=user).avatar_media
    _member_of(private_room, user)
    # Using the profile picture's upload in the room would tie the open profile to it.
    response = api.post(
        f"/api/v1/uploads/{profile_asset.pk}/use/",
        {"target": "member_avatar", "target_id": private_room.pk},
        format="json",
    )
    assert response.status_code == 400
    assert Membership.objects.get(room=private_room, user=user).avatar_media is None
    # A separate upload is a separate asset with its own key.
    processed(
        lambda: api.patch(
            f"/api/v1/rooms/{private_room.pk}/membership/",
            {"avatar": gps_jpeg()},
            format="multipart",
        )
    )
    room_asset = Membership.objects.get(room=private_room, user=user).avatar_media
    assert room_asset.key != profile_asset.key
    members = api.get(f"/api/v1/rooms/{private_room.pk}/members/").content.decode()
    assert str(profile_asset.key) not in members


def test_room_avatar_from_the_room_page_and_refused_non_image(client, user, make_room, processed):
    room = make_room()
    join_room(room_id=room.pk, user=user, nickname="otter")
    client.force_login(user)
    url = f"/rooms/{room.pk}/me/"
    response = client.post(url, {"nickname": "otter", "avatar": text_named_png()})
    assert response.status_code == 200
    assert "This kind of file is not supported" in response.content.decode()
    assert Membership.objects.get(room=room, user=user).avatar_media is None
    assert not MediaAsset.objects.exists()

    response = processed(lambda: client.post(url, {"nickname": "otter", "avatar": gps_jpeg()}))
    assert response.status_code == 302
    asset = Membership.objects.get(room=room, user=user).avatar_media
    assert_every_stored_file_is_clean(asset)
    page = client.get(f"/rooms/{room.pk}/members/").content.decode()
    assert f"/api/v1/media/{asset.key}/320/" in page


def test_taking_the_room_avatar_off(api, client, user, make_room, processed):
    room = make_room()
    join_room(room_id=room.pk, user=user, nickname="otter")
    url = f"/api/v1/rooms/{room.pk}/membership/"
    processed(lambda: api.patch(url, {"avatar": gps_jpeg()}, format="multipart"))
    asset = Membership.objects.get(room=room, user=user).avatar_media
    response = processed(lambda: api.patch(url, {"remove_avatar": True}, format="json"))
    assert response.status_code == 200, response.json()
    assert response.json()["avatar"] is None
    assert not MediaAsset.objects.filter(pk=asset.pk).exists()
    assert not any(media_storage().exists(name) for name in asset.stored_names)

    # The same from the room's "me" page, whose box shows only when there is an avatar.
    client.force_login(user)
    page = f"/rooms/{room.pk}/me/"
    assert 'name="remove_avatar"' not in client.get(page).content.decode()
    processed(lambda: client.post(page, {"nickname": "otter", "avatar": gps_jpeg()}))
    assert 'name="remove_avatar"' in client.get(page).content.decode()
    response = processed(lambda: client.post(page, {"nickname": "otter", "remove_avatar": "on"}))
    assert response.status_code == 302
    assert Membership.objects.get(room=room, user=user).avatar_media_id is None


def test_room_cover_goes_through_the_pipeline(api, processed):
    response = processed(
        lambda: api.post(
            "/api/v1/rooms/",
            {"title": "Photos", "nickname": "lens", "cover": gps_jpeg()},
            format="multipart",
        )
    )
    assert response.status_code == 201, response.json()
    room = Room.objects.select_related("cover_media").get(pk=response.json()["id"])
    assert room.cover_media.room_id == room.pk
    assert_every_stored_file_is_clean(room.cover_media)
    cover = api.get(f"/api/v1/rooms/{room.pk}/").json()["cover"]
    assert_no_metadata(fetch_image(APIClient(), cover))


def test_a_non_image_cover_creates_no_room(api):
    response = api.post(
        "/api/v1/rooms/",
        {"title": "Photos", "nickname": "lens", "cover": pdf_named_png()},
        format="multipart",
    )
    assert response.status_code == 415
    assert "cover" in response.json()["error"]["fields"]
    assert not Room.objects.exists()
    assert not MediaAsset.objects.exists()


# --- Export and deletion --------------------------------------------------------------------


def test_export_links_the_processed_images_and_deletion_removes_them(
    api, user, make_room, processed
):
    room = make_room()
    join_room(room_id=room.pk, user=user, nickname="otter")
    processed(
        lambda: api.patch(
            ME, {"avatar": gps_jpeg(), "background": gps_jpeg("bg.jpg")}, format="multipart"
        )
    )
    processed(
        lambda: api.post(
            "/api/v1/users/alice/posts/", {"body": "x", "image": gps_jpeg()}, format="multipart"
        )
    )
    processed(
        lambda: api.patch(
            f"/api/v1/rooms/{room.pk}/membership/", {"avatar": gps_jpeg()}, format="multipart"
        )
    )
    sections = api.get("/api/v1/me/export/").json()["sections"]
    urls = [
        sections["profile"]["avatar"],
        sections["profile"]["background"],
        sections["status_posts"][0]["image"],
        sections["memberships"][0]["avatar"],
    ]
    for url in urls:
        assert url.split("?")[0].endswith("/original/"), url
        assert_no_metadata(fetch_image(api, url))

    assets = list(MediaAsset.objects.filter(owner=user))
    assert len(assets) == 4
    names = [name for asset in assets for name in asset.stored_names]
    response = processed(
        lambda: api.delete(ME, {"password": TEST_PASSWORD, "messages": "anonymise"}, format="json")
    )
    assert response.status_code == 204
    assert not MediaAsset.objects.filter(owner=user).exists()
    assert not any(media_storage().exists(name) for name in names)


# --- Constant queries -----------------------------------------------------------------------


def test_lists_with_pictures_keep_a_fixed_number_of_queries(make_user, make_room, processed):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from profiles.services import create_status_post, follow_user, update_profile
    from tests.community.media_samples import image_upload

    reader = make_user("reader")
    room = make_room()
    client = client_for(reader)

    def add_people(start: int, count: int) -> None:
        for i in range(start, start + count):
            author = make_user(f"author{i}")
            processed(lambda a=author: update_profile(user=a, avatar=image_upload()))
            processed(
                lambda a=author: create_status_post(author=a, body="hi", image=image_upload())
            )
            follow_user(follower=reader, followee=author)
            follow_user(follower=author, followee=reader)
            processed(lambda a=author, i=i: _join_with_avatar(room, a, f"n{i}"))

    def queries(url: str) -> tuple[int, dict]:
        with CaptureQueriesContext(connection) as captured:
            body = client.get(url).json()
        return len(captured), body

    urls = ["/api/v1/feed/friends/", f"/api/v1/rooms/{room.pk}/members/"]
    add_people(0, 2)
    few = [queries(url)[0] for url in urls]
    add_people(2, 10)
    many = [queries(url) for url in urls]
    assert [count for count, _body in many] == few
    feed, members = (body["results"] for _count, body in many)
    posts = [item["post"] for item in feed if item["type"] == "status_post"]
    assert len(posts) == 12
    assert all(post["image"] and post["author"]["avatar"] for post in posts)
    assert sum(bool(member["avatar"]) for member in members) == 12


def _join_with_avatar(room, user, nickname):
    from community.rooms.services import update_my_membership
    from tests.profiles.conftest import image_upload

    if not Membership.objects.filter(room=room, user=user).exists():
        join_room(room_id=room.pk, user=user, nickname=nickname)
    update_my_membership(room_id=room.pk, user=user, avatar=image_upload())


def test_chat_payloads_show_room_avatars_in_fixed_queries(make_user, make_room, processed):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from community.chat.services import send_message

    room = make_room(visibility=Room.Visibility.PRIVATE)
    reader = make_user("reader")
    _member_of(room, reader, nickname="reader")
    client = client_for(reader)
    url = f"/api/v1/rooms/{room.pk}/messages/"

    def add_people(start: int, count: int) -> None:
        for i in range(start, start + count):
            author = make_user(f"author{i}")
            _member_of(room, author, nickname=f"n{i}")
            processed(lambda a=author, i=i: _join_with_avatar(room, a, f"n{i}"))
            send_message(membership=Membership.objects.get(room=room, user=author), body="hi")

    def history() -> tuple[int, list]:
        with CaptureQueriesContext(connection) as captured:
            body = client.get(url).json()
        return len(captured), body["results"] if isinstance(body, dict) else body

    add_people(0, 2)
    few, _ = history()
    add_people(2, 10)
    many, messages = history()
    assert many == few
    avatars = [m["author"]["avatar"] for m in messages if m["body"] == "hi"]
    assert len(avatars) == 12 and all("signature=" in avatar for avatar in avatars)
    # The sender's own payload shows it too.
    sender = client_for(Membership.objects.get(room=room, nickname="n0").user)
    sent = sender.post(url, {"body": "again"}, format="json").json()
    assert sent["author"]["avatar"].split("?")[0] == avatars[0].split("?")[0]
