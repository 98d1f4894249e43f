import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from community.media.models import MediaAsset
from community.media.services import media_storage
from profiles.models import StatusPost
from tests.community.media_samples import image_upload

pytestmark = pytest.mark.django_db

POSTS = "/api/v1/users/alice/posts/"


def test_create_text_post(user, client_for):
    response = client_for(user).post(POSTS, {"body": "  Good morning  "})
    assert response.status_code == 201
    body = response.json()
    assert body["body"] == "Good morning"
    assert body["author"]["handle"] == "alice"
    assert body["image"] == ""


def test_create_post_with_a_real_image(user, client_for):
    response = client_for(user).post(
        POSTS, {"body": "look", "image": image_upload()}, format="multipart"
    )
    assert response.status_code == 201, response.json()
    post = StatusPost.objects.get()
    assert post.image_media.content_type == "image/png"
    # Not processed yet: no URL to a file that is not there, the payload says pending.
    assert response.json()["image"] == ""
    assert response.json()["image_media"]["state"] == "pending"


@pytest.mark.parametrize(
    "upload",
    [
        SimpleUploadedFile("evil.png", b"<script>alert(1)</script>", content_type="image/png"),
        SimpleUploadedFile("doc.png", b"%PDF-1.7\n" + b"\0" * 40, content_type="image/png"),
    ],
)
def test_a_file_that_is_not_an_image_is_rejected(user, client_for, upload):
    response = client_for(user).post(POSTS, {"body": "x", "image": upload}, format="multipart")
    assert response.status_code == 415
    assert "image" in response.json()["error"]["fields"]
    assert "not supported" in response.json()["error"]["message"]
    assert not StatusPost.objects.exists()
    assert not MediaAsset.objects.exists()


def test_an_image_that_cannot_be_decoded_ends_failed_and_shows_nothing(
    user, client_for, django_capture_on_commit_callbacks
):
    # The header reads as a JPEG, so the upload is taken; the decoder refuses the
    # cut-off pixels later. (Bytes whose header Pillow cannot read are refused at
    # upload: tests/community/media/test_media_bad_input.py.)
    from tests.community.media_samples import truncated_jpeg

    upload = SimpleUploadedFile("x.jpg", truncated_jpeg(), content_type="image/jpeg")
    client = client_for(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(POSTS, {"body": "x", "image": upload}, format="multipart")
    assert response.status_code == 201
    post = client.get(f"/api/v1/posts/{response.json()['id']}/").json()
    assert post["image"] == ""
    assert post["image_media"]["state"] == "failed"
    assert post["image_media"]["failure_reason"]


def test_image_named_like_anything_is_stored_by_its_real_format(user, client_for):
    upload = image_upload(name="photo.exe", image_format="JPEG")
    response = client_for(user).post(POSTS, {"body": "x", "image": upload}, format="multipart")
    assert response.status_code == 201
    assert StatusPost.objects.get().image_media.content_type == "image/jpeg"


@pytest.mark.parametrize("body", ["", "   ", "x" * 501])
def test_post_body_is_required_and_short(user, client_for, body):
    response = client_for(user).post(POSTS, {"body": body})
    assert response.status_code == 400
    assert "body" in response.json()["error"]["fields"]


def test_cannot_post_on_someone_elses_profile(user, make_user, client_for):
    response = client_for(make_user("bob")).post(POSTS, {"body": "hi"})
    assert response.status_code == 403
    assert not StatusPost.objects.exists()


def test_only_the_author_edits_and_deletes(user, make_user, client_for):
    post_id = client_for(user).post(POSTS, {"body": "v1"}).json()["id"]
    bob = client_for(make_user("bob"))
    url = f"/api/v1/posts/{post_id}/"
    assert bob.get(url).json()["body"] == "v1"
    assert bob.patch(url, {"body": "hacked"}).status_code == 403
    assert bob.delete(url).status_code == 403
    response = client_for(user).patch(url, {"body": "v2"})
    assert response.status_code == 200
    assert response.json()["body"] == "v2"
    assert client_for(user).delete(url).status_code == 204
    assert client_for(user).get(url).status_code == 404


def test_staff_can_delete_but_not_edit(user, make_user, client_for):
    post_id = client_for(user).post(POSTS, {"body": "spam"}).json()["id"]
    moderator = make_user("mod")
    moderator.is_staff = True
    moderator.save(update_fields=["is_staff"])
    url = f"/api/v1/posts/{post_id}/"
    assert client_for(moderator).patch(url, {"body": "x"}).status_code == 403
    assert client_for(moderator).delete(url).status_code == 204


def test_deleting_a_post_removes_its_image_file(
    user, client_for, django_capture_on_commit_callbacks
):
    client = client_for(user)
    post_id = client.post(POSTS, {"body": "x", "image": image_upload()}, format="multipart").json()[
        "id"
    ]
    asset = StatusPost.objects.get(pk=post_id).image_media
    storage = media_storage()
    assert storage.exists(asset.original_name)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(f"/api/v1/posts/{post_id}/").status_code == 204
    assert not MediaAsset.objects.filter(pk=asset.pk).exists()
    assert not storage.exists(asset.original_name)


@pytest.mark.parametrize("count", [3, 30])
def test_post_list_is_paginated_with_fixed_queries(
    user, make_user, client_for, django_assert_max_num_queries, count
):
    StatusPost.objects.bulk_create(StatusPost(author=user, body=f"post {i}") for i in range(count))
    client = client_for(make_user("reader"))
    # + 4 at most for the posts' reaction summaries (community/reactions/selectors.py).
    with django_assert_max_num_queries(3 + 4):
        response = client.get(POSTS, {"limit": 10})
    body = response.json()
    assert len(body["results"]) == min(count, 10)
    assert body["results"][0]["body"] == f"post {count - 1}"
    seen = [p["id"] for p in body["results"]]
    while body["next"]:
        body = client.get(body["next"]).json()
        seen += [p["id"] for p in body["results"]]
    assert len(seen) == len(set(seen)) == count


def test_posting_is_rate_limited(user, client_for):
    client = client_for(user)
    statuses = [client.post(POSTS, {"body": f"n{i}"}).status_code for i in range(21)]
    assert statuses[:20] == [201] * 20
    assert statuses[20] == 429
    response = client.post(POSTS, {"body": "again"})
    assert response.json()["error"]["code"] == "rate_limited"
    assert int(response["Retry-After"]) > 0
    assert StatusPost.objects.count() == 20
