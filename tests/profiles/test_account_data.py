import pytest
from rest_framework.test import APIClient

from community.chat.models import Message, MessageEdit
from community.chat.services import send_message
from community.media.models import MediaAsset
from community.media.services import media_storage
from community.rooms.models import Membership, Room
from profiles.deletion import deletion_hook_names, register_deletion_hook
from profiles.export import export_section_names, register_export_section
from profiles.models import Block, Follow, Profile, StatusPost
from profiles.services import block_user, create_status_post, follow_user
from tests.community.media_samples import image_upload
from tests.support.accounts import TEST_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_with_data(user, make_user, make_room, make_member):
    bob, carol = make_user("bob"), make_user("carol")
    follow_user(follower=user, followee=bob)
    follow_user(follower=carol, followee=user)
    block_user(blocker=user, blocked=make_user("troll"))
    create_status_post(author=user, body="my status", image=image_upload())
    room = make_room(owner=bob, title="Jazz corner")
    membership = make_member(room, user, nickname="blue-note")
    message = send_message(membership=membership, body="hello jazz")
    MessageEdit.objects.create(message=message, previous_body="helo jazz")
    send_message(membership=membership, body="second")
    return user, room, membership


def test_export_has_every_section_about_me(alice_with_data, client_for):
    user, room, _membership = alice_with_data
    response = client_for(user).get("/api/v1/me/export/")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    data = response.json()
    assert data["format"] == "moim-export/1"
    sections = data["sections"]
    assert set(sections) >= {
        "account",
        "profile",
        "follows",
        "blocks",
        "status_posts",
        "memberships",
        "messages",
    }
    assert sections["profile"]["handle"] == "alice"
    assert sections["account"]["username"] == "alice"
    assert [f["handle"] for f in sections["follows"]["following"]] == ["bob"]
    assert [f["handle"] for f in sections["follows"]["followers"]] == ["carol"]
    assert [b["handle"] for b in sections["blocks"]] == ["troll"]
    assert sections["status_posts"][0]["body"] == "my status"
    assert sections["memberships"] == [
        {
            "room_id": room.pk,
            "room_title": "Jazz corner",
            "nickname": "blue-note",
            "avatar": "",
            "role": "member",
            "state": "active",
            "is_open_profile": True,
            "joined_at": sections["memberships"][0]["joined_at"],
        }
    ]
    assert [m["body"] for m in sections["messages"]] == ["hello jazz", "second"]
    assert sections["messages"][0]["previous_versions"][0]["body"] == "helo jazz"


def test_export_contains_nothing_of_other_people(alice_with_data, make_user, client_for):
    user, room, _ = alice_with_data
    bob = Profile.objects.get(handle="bob").user
    send_message(membership=Membership.objects.get(room=room, user=bob), body="bob secret")
    text = client_for(user).get("/api/v1/me/export/").content.decode()
    assert "bob secret" not in text


def test_other_apps_can_register_export_sections(user, client_for):
    register_export_section("test_extra", lambda u: {"user_id": u.pk})
    try:
        assert "test_extra" in export_section_names()
        data = client_for(user).get("/api/v1/me/export/").json()
        assert data["sections"]["test_extra"] == {"user_id": user.pk}
    finally:
        from profiles import export

        export._sections.pop("test_extra")


def test_export_is_throttled(user, client_for):
    client = client_for(user)
    statuses = [client.get("/api/v1/me/export/").status_code for _ in range(11)]
    assert statuses[:10] == [200] * 10
    assert statuses[10] == 429


def _delete(client, **payload):
    return client.delete("/api/v1/me/", payload, format="json")


def test_delete_needs_the_password_and_a_choice(alice_with_data, client_for):
    user, *_ = alice_with_data
    client = client_for(user)
    response = _delete(client, password="wrong", messages="anonymise")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "wrong_password"
    response = _delete(client, password=TEST_PASSWORD, messages="shred")
    assert response.status_code == 400
    assert "messages" in response.json()["error"]["fields"]
    user.refresh_from_db()
    assert user.is_active


def test_delete_account_keeping_messages_anonymised(
    alice_with_data, client_for, django_capture_on_commit_callbacks
):
    user, room, membership = alice_with_data
    members_before = Room.objects.get(pk=room.pk).member_count
    image = StatusPost.objects.get(author=user).image_media
    assert image.stored_names
    storage = media_storage()

    with django_capture_on_commit_callbacks(execute=True):
        response = _delete(client_for(user), password=TEST_PASSWORD, messages="anonymise")
    assert response.status_code == 204

    user.refresh_from_db()
    assert not user.is_active
    assert not user.has_usable_password()
    assert "alice" not in user.username
    assert user.email == ""
    profile = Profile.objects.get(user=user)
    assert profile.handle.startswith("deleted-")
    assert profile.bio == profile.status_message == ""
    assert not StatusPost.objects.filter(author=user).exists()
    assert not MediaAsset.objects.filter(pk=image.pk).exists()
    assert not any(storage.exists(name) for name in image.stored_names)
    assert not Follow.objects.filter(follower=user).exists()
    assert not Follow.objects.filter(followee=user).exists()
    assert not Block.objects.filter(blocker=user).exists()

    membership.refresh_from_db()
    assert membership.state == Membership.State.LEFT
    assert membership.nickname != "blue-note"
    assert Room.objects.get(pk=room.pk).member_count == members_before - 1
    kept = Message.objects.filter(author=membership).order_by("seq")
    assert [m.body for m in kept] == ["hello jazz", "second"]

    # The handle is free again, and the old account cannot sign in.
    assert APIClient().post(
        "/api/v1/auth/token/", {"username": "alice", "password": TEST_PASSWORD}
    ).status_code in (400, 401)
    assert client_for(user).get("/api/v1/users/alice/").status_code == 404


def test_delete_account_deleting_messages(alice_with_data, client_for):
    user, room, membership = alice_with_data
    assert _delete(client_for(user), password=TEST_PASSWORD, messages="delete").status_code == 204
    messages = list(Message.objects.filter(room=room, author=membership).order_by("seq"))
    assert len(messages) == 2  # tombstones keep the room's order
    assert all(m.deleted_at is not None and m.body == "" for m in messages)
    assert not MessageEdit.objects.filter(message__in=messages).exists()


def test_deleted_account_tokens_stop_working(user, api_client):
    tokens = api_client.post(
        "/api/v1/auth/token/", {"username": "alice", "password": TEST_PASSWORD}
    ).json()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    response = api_client.delete(
        "/api/v1/me/", {"password": TEST_PASSWORD, "messages": "delete"}, format="json"
    )
    assert response.status_code == 204
    assert api_client.get("/api/v1/me/").status_code == 401
    refreshed = APIClient().post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert refreshed.status_code == 401


def test_other_apps_deletion_hooks_run_in_the_same_transaction(alice_with_data, client_for):
    user, *_ = alice_with_data
    calls = []

    def failing_hook(*, user, delete_messages):
        calls.append((user.pk, delete_messages))
        raise RuntimeError("ledger unavailable")

    register_deletion_hook("test_failing", failing_hook)
    try:
        assert "test_failing" in deletion_hook_names()
        with pytest.raises(RuntimeError):
            _delete(client_for(user), password=TEST_PASSWORD, messages="delete")
    finally:
        from profiles import deletion

        deletion._hooks.pop("test_failing")
    assert calls == [(user.pk, True)]
    user.refresh_from_db()
    assert user.is_active  # nothing half-written
    assert Profile.objects.get(user=user).handle == "alice"
    assert StatusPost.objects.filter(author=user).exists()


def test_an_owned_room_passes_to_a_cohost_or_member_or_is_archived(
    user, make_user, make_room, make_member, client_for
):
    from community.rooms.services import change_member_role

    busy = make_room(owner=user, title="Busy")
    make_member(busy, make_user("early"))
    cohost = make_member(busy, make_user("cohost"))
    change_member_role(room_id=busy.pk, actor=user, membership_id=cohost.pk, role="cohost")
    lonely = make_room(owner=user, title="Lonely")
    gated = make_room(owner=make_user("gatekeeper"), join_policy="approval")
    make_member(gated, user, nickname="hopeful")  # a pending request

    response = _delete(client_for(user), password=TEST_PASSWORD, messages="anonymise")
    assert response.status_code == 204

    busy.refresh_from_db()
    assert busy.owner_id == cohost.user_id
    assert Membership.objects.get(pk=cohost.pk).role == Membership.Role.OWNER
    assert busy.member_count == 2
    lonely.refresh_from_db()
    assert lonely.is_archived
    from community.rooms.models import JoinRequest

    request = JoinRequest.objects.get(room=gated, user=user)
    assert request.state == JoinRequest.State.CANCELLED
    assert request.nickname != "hopeful"


# Areas that hold a user's data and must register an export section and, where the
# data must be removed or anonymised, a deletion hook. Skipped until the area exists.
AREA_REGISTRATIONS = [
    ("community", "Reaction", "reactions", "reactions"),
    ("commerce", "Transfer", "ledger", "ledger"),
    # Push targets go with the account (a foreign key that cascades): no hook.
    ("push_notifications", "GCMDevice", "push_devices", None),
]


@pytest.mark.parametrize(("app_label", "model", "section", "hook"), AREA_REGISTRATIONS)
def test_every_area_registers_its_export_section_and_deletion_hook(app_label, model, section, hook):
    from django.apps import apps

    try:
        apps.get_model(app_label, model)
    except LookupError:
        pytest.skip(f"{app_label}.{model} is not in this build")
    assert section in export_section_names()
    if hook:
        assert hook in deletion_hook_names()
