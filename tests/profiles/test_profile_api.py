import pytest

from community.rooms.models import Interest
from profiles.models import Profile

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"


def test_me_shows_profile_and_preferences(user, client_for):
    body = client_for(user).get(ME).json()
    assert body["handle"] == "alice"
    assert body["display_name"] == "alice"
    assert body["timezone"] == "UTC"
    assert set(body) >= {
        "handle",
        "display_name",
        "bio",
        "status_message",
        "interests",
        "languages",
        "locale",
        "timezone",
    }


def test_me_requires_authentication(api_client):
    response = api_client.get(ME)
    assert response.status_code == 401
    assert response.json()["error"]["code"]


def test_patch_me_updates_every_field(user, client_for):
    Interest.objects.create(slug="jazz", name_en="Jazz")
    Interest.objects.create(slug="hiking", name_en="Hiking")
    response = client_for(user).patch(
        ME,
        {
            "handle": "앨리스",
            "display_name": "  Alice Kim ",
            "bio": "I like jazz.",
            "status_message": "Listening",
            "interests": ["jazz", "hiking"],
            "languages": ["ko", "en", "ko"],
            "locale": "ko",
            "timezone": "Asia/Seoul",
        },
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["handle"] == "앨리스"
    assert body["display_name"] == "Alice Kim"
    assert sorted(body["interests"]) == ["hiking", "jazz"]
    assert body["languages"] == ["ko", "en"]
    assert body["locale"] == "ko"
    assert body["timezone"] == "Asia/Seoul"
    user.refresh_from_db()
    assert user.timezone == "Asia/Seoul"
    assert user.profile.handle_key == "앨리스"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"handle": "a b"}, "handle"),
        ({"handle": "x"}, "handle"),
        ({"handle": "_" * 31}, "handle"),
        ({"handle": "has/slash"}, "handle"),
        ({"handle": "ﷺ" * 2}, "handle"),  # folds to 36 characters
        ({"display_name": "   "}, "display_name"),
        ({"display_name": "n" * 51}, "display_name"),
        ({"bio": "b" * 501}, "bio"),
        ({"status_message": "s" * 141}, "status_message"),
        ({"languages": ["en", "klingon"]}, "languages"),
        ({"interests": ["no-such-interest"]}, "interests"),
        ({"locale": "fr"}, "locale"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
    ],
)
def test_patch_me_rejects_bad_input_and_writes_nothing(user, client_for, payload, field):
    before = Profile.objects.get(user=user)
    response = client_for(user).patch(ME, {**payload, "bio": payload.get("bio", "changed")})
    assert response.status_code == 400
    error = response.json()["error"]
    assert field in error["fields"]
    after = Profile.objects.get(user=user)
    assert (after.handle, after.bio, after.display_name) == (
        before.handle,
        before.bio,
        before.display_name,
    )


@pytest.mark.parametrize(
    "look_alike",
    ["BOB", "Bob", "ｂｏｂ", "ＢＯＢ", "𝐛𝐨𝐛"],  # case, full-width, mathematical bold
)
def test_look_alike_handles_collide(make_user, client_for, look_alike):
    make_user("bob")
    other = make_user("carol")
    response = client_for(other).patch(ME, {"handle": look_alike})
    assert response.status_code == 400
    assert "handle" in response.json()["error"]["fields"]


def test_registration_gives_free_handles_to_look_alike_usernames(make_user):
    make_user("dave")
    second = make_user("DAVE_")
    assert second.profile.handle_key != "dave"


def test_keeping_my_own_handle_is_not_a_collision(user, client_for):
    response = client_for(user).patch(ME, {"handle": "alice", "bio": "x"})
    assert response.status_code == 200
    response = client_for(user).patch(ME, {"handle": "ALICE"})
    assert response.status_code == 200
    assert response.json()["handle"] == "ALICE"


def test_user_detail_by_handle_and_look_alike(user, make_user, client_for):
    viewer = make_user("viewer")
    client_for(user).patch(ME, {"display_name": "Alice", "bio": "hi"})
    for handle in ["alice", "ALICE", "ａｌｉｃｅ", "@alice"]:
        response = client_for(viewer).get(f"/api/v1/users/{handle}/")
        assert response.status_code == 200, handle
        body = response.json()
        assert body["handle"] == "alice"
        assert body["display_name"] == "Alice"
        assert body["is_me"] is False
        assert "email" not in body and "username" not in body


def test_unicode_handle_works_in_the_url(user, make_user, client_for):
    client_for(user).patch(ME, {"handle": "앨리스"})
    response = client_for(make_user()).get("/api/v1/users/앨리스/")
    assert response.status_code == 200
    assert response.json()["handle"] == "앨리스"


def test_unknown_handle_is_404_in_the_error_shape(user, client_for):
    response = client_for(user).get("/api/v1/users/nobody-here/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_user_detail_query_count_is_fixed(
    user, make_user, client_for, django_assert_max_num_queries
):
    target = make_user("target")
    for slug in ["a", "b", "c", "d"]:
        target.profile.interests.add(Interest.objects.create(slug=slug, name_en=slug))
    with django_assert_max_num_queries(3):
        response = client_for(user).get("/api/v1/users/target/")
    assert len(response.json()["interests"]) == 4


def test_avatar_and_background_upload_is_verified(
    user, client_for, png, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = client_for(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.patch(
            ME, {"avatar": png("me.png"), "background": png("bg.gif")}, format="multipart"
        )
    assert response.status_code == 200, response.json()
    body = client.get(ME).json()
    # Served by the media view as re-encoded renditions, whatever the upload's name.
    assert body["avatar"].startswith("/api/v1/media/")
    assert body["avatar"].endswith("/320/")
    assert body["background"].endswith("/1280/")
    assert body["avatar_media"]["content_type"] == "image/png"
    assert body["background_media"]["content_type"] == "image/png"  # by its real format
    fake = SimpleUploadedFile("me.png", b"just some text", content_type="image/png")
    response = client.patch(ME, {"avatar": fake, "bio": "x"}, format="multipart")
    assert response.status_code == 400
    assert "avatar" in response.json()["error"]["fields"]
    user.profile.refresh_from_db()
    assert user.profile.bio == ""


def test_decomposed_unicode_handles_are_composed(user, make_user, client_for):
    import unicodedata

    decomposed = unicodedata.normalize("NFD", "josé")
    response = client_for(user).patch(ME, {"handle": decomposed})
    assert response.status_code == 200, response.json()
    assert response.json()["handle"] == "josé"
    response = client_for(make_user()).patch(ME, {"handle": "JOSÉ"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("handle", "accepted"),
    [
        ("раураl", False),  # Cyrillic р, а, у with Latin l: passes for "paypal"
        ("αlice", False),  # Greek alpha
        ("алиса", True),
        ("ελένη", True),
        ("jazz재즈", True),
        ("ジャズ_好き", True),
    ],
)
def test_mixed_confusable_scripts_are_refused(user, client_for, handle, accepted):
    response = client_for(user).patch(ME, {"handle": handle})
    assert (response.status_code == 200) is accepted, response.json()


def test_a_mixed_script_username_gets_a_neutral_handle(make_user):
    assert make_user("раураl").profile.handle == "user"
