"""Notifications about things done in a room name the actor by room nickname only:
never their username, handle, display name or email (open profiles)."""

import pytest

from commerce.services import create_topup, send_tip
from community.chat.services import send_message
from community.notifications.services import notify_reaction
from community.rooms.models import Membership
from profiles.services import update_profile
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db
SECRETS = ["zq9user", "zq9handle", "Zq9 Real Person", "zq9mail"]


def test_room_notifications_never_reveal_main_names(
    make_user, make_room, make_member, eager_tasks, django_capture_on_commit_callbacks
):
    actor = make_user("zq9user", email="zq9mail@example.com")
    update_profile(user=actor, handle="zq9handle", display_name="Zq9 Real Person")
    target = make_user("target")
    room = make_room(owner=target, nickname="Keeper", title="Pond")
    gated = make_room(owner=target, nickname="Keeper", title="Gate", join_policy="approval")
    actor_membership = make_member(room, actor, nickname="Masked Otter")
    keeper = Membership.objects.get(room=room, user=target)
    original = send_message(membership=keeper, body="hello pond")

    send_message(membership=actor_membership, body="@Keeper look")  # mention
    send_message(membership=actor_membership, body="yes", reply_to_id=original.pk)  # reply
    notify_reaction(target=original, actor_membership_or_user=actor)  # reaction
    make_member(gated, actor, nickname="Masked Otter")  # join request
    create_topup(user=actor, amount=5000, currency="KRW")
    with django_capture_on_commit_callbacks(execute=True):  # tip (notified by a task)
        send_tip(sender=actor, amount=1000, currency="KRW", message_id=original.pk)

    client = client_for(target)
    body = client.get("/api/v1/notifications/").content.decode()
    kinds = {row["kind"] for row in client.get("/api/v1/notifications/").json()["results"]}
    assert kinds == {"mention", "reply", "reaction", "join_request", "tip"}
    assert body.count("Masked Otter") >= 5
    assert [secret for secret in SECRETS if secret.casefold() in body.casefold()] == []
    client.force_login(target)
    page = client.get("/notifications/").content.decode()
    assert [secret for secret in SECRETS if secret.casefold() in page.casefold()] == []
