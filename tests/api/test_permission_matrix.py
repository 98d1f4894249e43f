"""Who may call what: every API endpoint against six roles, from ONE table.

Each row is ``(method, url template, body, expected statuses)`` with the statuses in
``ROLES`` order. The room is public, asks for approval to join, and is not readable
without an account; ``{request}`` is a pending join request of a seventh user.
Staff are site moderators (``is_staff`` in the ``moderators`` group).
Each case runs in its own transaction, so writes (ban, leave, transfer) do not leak.
"""

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from community.access import active_membership
from community.chat.screening import hold_message
from community.chat.services import check_send_message
from community.media.services import create_media_asset
from community.meetups.services import create_meetup
from community.moderation.services import (
    check_add_room_filter,
    check_ban_member,
    check_mute_member,
)
from community.polls.services import create_poll
from community.rooms.models import Room
from community.rooms.services import create_invite, join_room, update_room
from profiles.services import create_status_post
from tests.community.moderation_helpers import moderators_group

ROLES = ("anonymous", "member", "non_member", "banned", "host", "staff")

MONEY = {"amount": 100, "currency": "KRW"}

# fmt: off
# method, url template, JSON body, statuses for (anonymous, member, non_member, banned, host, staff)
MATRIX = [
    # auth: the same for everyone (bad credentials are a 401 whoever asks)
    ("post", "auth/register/", {"username": "newcomer", "password": "a-long-pw-4242"},
     (201, 201, 201, 201, 201, 201)),
    ("post", "auth/token/", {"username": "nobody", "password": "wrong-password"},
     (401, 401, 401, 401, 401, 401)),
    ("post", "auth/token/refresh/", {"refresh": "not-a-token"}, (401, 401, 401, 401, 401, 401)),
    ("post", "auth/logout/", {"refresh": "not-a-token"}, (401, 401, 401, 401, 401, 401)),
    ("post", "auth/logout-everywhere/", None, (401, 204, 204, 204, 204, 204)),
    ("post", "me/password/", {"old_password": "wrong-password", "new_password": "x-new-pw-4242"},
     (401, 400, 400, 400, 400, 400)),
    ("post", "realtime/ticket/", None, (401, 201, 201, 201, 201, 201)),
    # account recovery: the same answer whoever asks, for any address
    ("post", "auth/password-reset/", {"email": "nobody@example.com"},
     (202, 202, 202, 202, 202, 202)),
    ("post", "auth/password-reset/confirm/",
     {"uid": "MQ", "token": "bad", "new_password": "x-new-pw-4242"},
     (400, 400, 400, 400, 400, 400)),
    ("post", "auth/email/verify/", {"token": "bad"}, (400, 400, 400, 400, 400, 400)),
    ("post", "me/email/", {"email": "new@example.com", "password": "wrong-password"},
     (401, 400, 400, 400, 400, 400)),
    ("post", "me/email/verification/", None, (401, 400, 400, 400, 400, 400)),
    # discovery
    ("get", "rooms/", None, (200, 200, 200, 200, 200, 200)),
    ("post", "rooms/", {"title": "New room", "nickname": "me"}, (401, 201, 201, 201, 201, 201)),
    ("get", "rooms/trending/", None, (200, 200, 200, 200, 200, 200)),
    ("get", "rooms/for-you/", None, (401, 200, 200, 200, 200, 200)),
    ("get", "interests/", None, (200, 200, 200, 200, 200, 200)),
    # not readable without an account: hidden (404) from the anonymous
    ("get", "rooms/{room}/", None, (404, 200, 200, 200, 200, 200)),
    ("get", "rooms/{room}/similar/", None, (404, 200, 200, 200, 200, 200)),
    ("get", "rooms/{room}/members/", None, (404, 200, 200, 200, 200, 200)),
    # @ autocomplete: members only; anyone else gets the answer of a missing room
    ("get", "rooms/{room}/mentions/?q=a", None, (401, 200, 404, 404, 200, 404)),
    ("get", "invites/{invite}/", None, (401, 200, 200, 200, 200, 200)),
    # the room's settings: hosts only
    ("patch", "rooms/{room}/", {"title": "Renamed"}, (401, 403, 403, 403, 200, 403)),
    # joining and leaving: joining again answers the membership; withdrawing is idempotent
    ("post", "rooms/{room}/join/", {"nickname": "newbie"}, (401, 201, 202, 403, 201, 202)),
    ("delete", "rooms/{room}/join/", None, (401, 204, 204, 204, 204, 204)),
    ("post", "rooms/{room}/leave/", {}, (401, 204, 404, 404, 409, 404)),
    ("patch", "rooms/{room}/membership/", {"nickname": "renamed"},
     (401, 200, 404, 404, 200, 404)),
    # hosting
    ("patch", "rooms/{room}/members/{member}/", {"role": "cohost"},
     (401, 403, 403, 403, 200, 403)),
    ("post", "rooms/{room}/members/{member}/ban/", None, (401, 403, 403, 403, 204, 204)),
    # one URL per action: unbanning is only POST .../unban/ (below), which takes a reason
    ("delete", "rooms/{room}/members/{banned}/ban/", None, (401, 405, 405, 405, 405, 405)),
    ("post", "rooms/{room}/members/{member}/mute/", {"minutes": 5},
     (401, 403, 403, 403, 200, 200)),
    # blocking a member for myself (per room, by membership): members only, not yourself
    ("post", "rooms/{room}/members/{member}/block/", None, (401, 400, 403, 403, 204, 403)),
    ("delete", "rooms/{room}/members/{member}/block/", None, (401, 204, 204, 204, 204, 204)),
    ("get", "rooms/{room}/blocks/", None, (401, 200, 200, 200, 200, 200)),
    # a private room is missing to everyone not in it: the same answers as {missing}
    ("get", "rooms/{private}/", None, (404, 404, 404, 404, 404, 404)),
    ("get", "rooms/{missing}/", None, (404, 404, 404, 404, 404, 404)),
    ("get", "rooms/{private}/messages/", None, (404, 404, 404, 404, 404, 404)),
    ("get", "rooms/{private}/messages/?q=secret", None, (404, 404, 404, 404, 404, 404)),
    ("get", "rooms/{missing}/messages/", None, (404, 404, 404, 404, 404, 404)),
    ("get", "rooms/{private}/members/", None, (404, 404, 404, 404, 404, 404)),
    ("get", "rooms/{private}/similar/", None, (404, 404, 404, 404, 404, 404)),
    ("get", "rooms/{private}/reactions/", None, (401, 404, 404, 404, 404, 404)),
    ("get", "rooms/{missing}/reactions/", None, (401, 404, 404, 404, 404, 404)),
    ("post", "rooms/{private}/reactions/", {"emoji": "👍"}, (401, 404, 404, 404, 404, 404)),
    ("get", "messages/{private_message}/reactions/", None, (401, 404, 404, 404, 404, 404)),
    ("post", "rooms/{private}/join/", {"nickname": "x"}, (401, 404, 404, 404, 404, 404)),
    ("post", "rooms/{private}/members/{private_member}/block/", None,
     (401, 404, 404, 404, 404, 404)),
    ("get", "rooms/{private}/blocks/", None, (401, 404, 404, 404, 404, 404)),
    ("post", "rooms/{room}/transfer/", {"membership_id": "{member}"},
     (401, 403, 403, 403, 200, 403)),
    ("get", "rooms/{room}/requests/", None, (401, 403, 403, 403, 200, 403)),
    ("post", "rooms/{room}/requests/{request}/approve/", None, (401, 403, 403, 403, 200, 403)),
    ("post", "rooms/{room}/requests/{request}/decline/", None, (401, 403, 403, 403, 200, 403)),
    ("get", "rooms/{room}/invites/", None, (401, 403, 403, 403, 200, 403)),
    ("post", "rooms/{room}/invites/", {}, (401, 201, 403, 403, 201, 403)),
    # chat
    ("get", "rooms/{room}/messages/", None, (403, 200, 403, 403, 200, 403)),
    ("get", "rooms/{room}/messages/?q=hello", None, (403, 200, 403, 403, 200, 403)),
    ("get", "rooms/{room}/messages/?around=1", None, (403, 200, 403, 403, 200, 403)),
    ("post", "rooms/{room}/messages/", {"body": "hi"}, (401, 201, 403, 403, 201, 403)),
    ("post", "rooms/{room}/read/", {"seq": 1}, (401, 200, 403, 403, 200, 403)),
    ("patch", "messages/{message}/", {"body": "edited"}, (401, 200, 403, 403, 403, 403)),
    ("delete", "messages/{message}/", None, (401, 204, 403, 403, 204, 403)),
    # polls: members vote (and read the voters of a named poll); its author or a host closes
    ("post", "rooms/{room}/polls/", {"question": "When?", "options": ["Fri", "Sat"]},
     (401, 201, 403, 403, 201, 403)),
    ("get", "polls/{poll}/", None, (403, 200, 403, 403, 200, 403)),
    ("put", "polls/{poll}/vote/", {"options": ["{poll_option}"]}, (401, 200, 403, 403, 200, 403)),
    ("post", "polls/{poll}/close/", None, (401, 200, 403, 403, 200, 403)),
    ("get", "polls/{poll}/voters/", None, (401, 200, 403, 403, 200, 403)),
    ("get", "polls/{private_poll}/", None, (404, 404, 404, 404, 404, 404)),
    ("put", "polls/{private_poll}/vote/", {"options": []}, (401, 404, 404, 404, 404, 404)),
    # meetups: members answer; readers list, read and export them
    ("get", "rooms/{room}/meetups/", None, (403, 200, 403, 403, 200, 403)),
    ("post", "rooms/{room}/meetups/", {"title": "Meet", "starts_at": "{starts_at}"},
     (401, 201, 403, 403, 201, 403)),
    ("get", "meetups/{meetup}/", None, (403, 200, 403, 403, 200, 403)),
    ("get", "meetups/{meetup}/rsvp/", None, (401, 200, 403, 403, 200, 403)),
    ("put", "meetups/{meetup}/rsvp/", {"status": "going"}, (401, 200, 403, 403, 200, 403)),
    ("get", "meetups/{meetup}.ics", None, (403, 200, 403, 403, 200, 403)),
    ("get", "meetups/{private_meetup}.ics", None, (404, 404, 404, 404, 404, 404)),
    ("get", "rooms/{private}/meetups/", None, (404, 404, 404, 404, 404, 404)),
    # money
    ("get", "wallet/", None, (401, 200, 200, 200, 200, 200)),
    ("get", "wallet/transactions/", None, (401, 200, 200, 200, 200, 200)),
    ("post", "wallet/topups/", MONEY, (401, 201, 201, 201, 201, 201)),
    # the member's own message: no self-tips; outsiders cannot see it (404)
    ("post", "tips/", {**MONEY, "message": "{message}"}, (401, 400, 404, 404, 422, 404)),
    # a quote for tipping the member's message: members of the room only, not oneself
    ("get", "tips/quote/?message={message}", None, (401, 400, 404, 404, 200, 404)),
    ("post", "payouts/", MONEY, (401, 422, 422, 422, 422, 422)),
    # nobody here may reverse this transfer (a moderator neither): it is not confirmed
    ("post", "refunds/", {"transfer": 999999}, (401, 404, 404, 404, 404, 404)),
    # nobody here pays for the room: no membership to cancel
    ("post", "wallet/rooms/{room}/cancel-renewal/", None, (401, 404, 404, 404, 404, 404)),
    ("post", "wallet/rooms/{room}/resume-renewal/", None, (401, 404, 404, 404, 404, 404)),
    ("get", "wallet/rooms/{room}/", None, (401, 200, 200, 200, 200, 200)),
    ("get", "wallet/rooms/{private}/", None, (401, 404, 404, 404, 404, 404)),
    # the room has no price: not for sale (404), whoever asks
    ("post", "wallet/rooms/{room}/purchase/", {}, (401, 404, 404, 404, 404, 404)),
    # my account and profile ({handle} and {post} are the host's)
    ("get", "me/", None, (401, 200, 200, 200, 200, 200)),
    ("patch", "me/", {"bio": "hi"}, (401, 200, 200, 200, 200, 200)),
    # a wrong password never deletes anything
    ("delete", "me/", {"password": "wrong-password", "messages": "anonymise"},
     (401, 403, 403, 403, 403, 403)),
    ("get", "me/export/", None, (401, 200, 200, 200, 200, 200)),
    ("get", "users/{handle}/", None, (401, 200, 200, 200, 200, 200)),
    ("get", "users/{handle}/posts/", None, (401, 200, 200, 200, 200, 200)),
    ("post", "users/{handle}/posts/", {"body": "new post"}, (401, 403, 403, 403, 201, 403)),
    # following or blocking yourself is refused
    ("post", "users/{handle}/follow/", None, (401, 200, 200, 200, 422, 200)),
    ("delete", "users/{handle}/follow/", None, (401, 200, 200, 200, 200, 200)),
    ("post", "users/{handle}/block/", None, (401, 200, 200, 200, 422, 200)),
    ("delete", "users/{handle}/block/", None, (401, 200, 200, 200, 200, 200)),
    ("get", "posts/{post}/", None, (401, 200, 200, 200, 200, 200)),
    ("patch", "posts/{post}/", {"body": "edited"}, (401, 403, 403, 403, 200, 403)),
    # staff remove status posts (moderation)
    ("delete", "posts/{post}/", None, (401, 403, 403, 403, 204, 204)),
    ("get", "feed/friends/", None, (401, 200, 200, 200, 200, 200)),
    ("get", "people/?q=a", None, (401, 200, 200, 200, 200, 200)),
    ("get", "people/suggestions/", None, (401, 200, 200, 200, 200, 200)),
    # reactions: on messages, members only; on rooms, reading is open to signed-in users
    ("get", "messages/{message}/reactions/", None, (401, 200, 403, 403, 200, 403)),
    # translation is off here (no TRANSLATION_ENGINE): readers learn that, nobody else
    ("post", "messages/{message}/translation/", {"target": "ko"}, (401, 404, 403, 403, 404, 403)),
    # link previews: a composer's card needs an account; only http(s) addresses
    ("get", "link-preview/?url=ftp://example.invalid/", None, (401, 400, 400, 400, 400, 400)),
    ("get", "link-previews/{link_key}/image/", None, (404, 404, 404, 404, 404, 404)),
    ("post", "messages/{private_message}/translation/", {"target": "ko"},
     (401, 404, 404, 404, 404, 404)),
    ("post", "messages/{message}/reactions/", {"emoji": "👍"}, (401, 200, 403, 403, 200, 403)),
    ("delete", "messages/{message}/reactions/?emoji=%F0%9F%91%8D", None,
     (401, 200, 403, 403, 200, 403)),
    ("get", "posts/{post}/reactions/", None, (401, 200, 200, 200, 200, 200)),
    ("post", "posts/{post}/reactions/", {"emoji": "👍"}, (401, 200, 200, 200, 200, 200)),
    ("delete", "posts/{post}/reactions/?emoji=%F0%9F%91%8D", None,
     (401, 200, 200, 200, 200, 200)),
    ("get", "rooms/{room}/reactions/", None, (401, 200, 200, 200, 200, 200)),
    ("post", "rooms/{room}/reactions/", {"emoji": "👍"}, (401, 200, 403, 403, 200, 403)),
    ("delete", "rooms/{room}/reactions/?emoji=%F0%9F%91%8D", None,
     (401, 200, 403, 403, 200, 403)),
    # moderation: staff are site moderators and act like hosts; you cannot report yourself
    ("post", "reports/", {"target_type": "message", "target_id": "{message}", "reason": "spam"},
     (401, 400, 201, 201, 201, 201)),
    ("get", "appeals/", None, (401, 200, 200, 200, 200, 200)),
    ("post", "appeals/", {"kind": "ban", "member_id": "{banned}", "text": "Sorry"},
     (401, 404, 404, 201, 404, 404)),
    ("get", "moderation/notices/", None, (401, 200, 200, 200, 200, 200)),
    ("post", "rooms/{room}/members/{member}/kick/", {"reason": "rude"},
     (401, 403, 403, 403, 204, 204)),
    # nobody kicked them: nothing to undo (409) for the hosts, refused (403) to others
    ("post", "rooms/{room}/members/{member}/kick/undo/", None, (401, 403, 403, 403, 409, 409)),
    ("post", "rooms/{room}/members/{banned}/unban/", {"reason": "ok"},
     (401, 403, 403, 403, 204, 204)),
    ("post", "rooms/{room}/slow-mode/", {"seconds": 10}, (401, 403, 403, 403, 200, 200)),
    # the room's notice: read by whoever sees the room, set by hosts and moderators
    ("get", "rooms/{room}/announcement/", None, (404, 200, 200, 200, 200, 200)),
    ("get", "rooms/{private}/announcement/", None, (404, 404, 404, 404, 404, 404)),
    ("put", "rooms/{room}/announcement/", {"body": "Welcome"}, (401, 403, 403, 403, 200, 200)),
    ("post", "rooms/{room}/announcement/", {"message_id": "{message}"},
     (401, 403, 403, 403, 200, 200)),
    ("delete", "rooms/{room}/announcement/", None, (401, 403, 403, 403, 204, 204)),
    ("get", "rooms/{room}/word-filters/", None, (401, 403, 403, 403, 200, 200)),
    ("post", "rooms/{room}/word-filters/", {"kind": "word", "text": "spoiler", "action": "hold"},
     (401, 403, 403, 403, 201, 201)),
    ("delete", "rooms/{room}/word-filters/{filter}/", None, (401, 403, 403, 403, 204, 204)),
    ("get", "rooms/{room}/held-messages/", None, (401, 403, 403, 403, 200, 200)),
    ("post", "rooms/{room}/held-messages/{held}/approve/", None, (401, 403, 403, 403, 200, 200)),
    ("post", "rooms/{room}/held-messages/{held}/reject/", None, (401, 403, 403, 403, 200, 200)),
    # media: uploads are multipart only; only the owner (the member) sees an upload, and an
    # unprocessed one has no file to serve yet
    ("post", "uploads/", {}, (401, 415, 415, 415, 415, 415)),
    ("get", "uploads/{upload}/", None, (401, 200, 404, 404, 404, 404)),
    ("post", "uploads/{upload}/use/", {"target": "avatar"}, (401, 400, 404, 404, 404, 404)),
    # notifications: my own only ({notification} does not exist: 404 for everyone)
    ("get", "notifications/", None, (401, 200, 200, 200, 200, 200)),
    ("post", "notifications/{notification}/read/", None, (401, 404, 404, 404, 404, 404)),
    ("post", "notifications/read-all/", None, (401, 200, 200, 200, 200, 200)),
    ("get", "me/unread/", None, (401, 200, 200, 200, 200, 200)),
    ("get", "me/rooms/", None, (401, 200, 200, 200, 200, 200)),
    ("get", "me/chats/", None, (401, 200, 200, 200, 200, 200)),
    ("get", "me/notification-settings/", None, (401, 200, 200, 200, 200, 200)),
    ("put", "rooms/{room}/notifications/", {"level": "mentions"}, (401, 200, 404, 404, 200, 404)),
    # push targets: my own only (another's, or none, is a 404); the VAPID key is public
    ("get", "me/push-devices/", None, (401, 200, 200, 200, 200, 200)),
    ("post", "me/push-devices/", {"platform": "fcm", "token": "fcm-matrix-token-0123456789"},
     (401, 201, 201, 201, 201, 201)),
    ("delete", "me/push-devices/{platform}/{device}/", None, (401, 404, 404, 404, 404, 404)),
    ("get", "push/config/", None, (200, 200, 200, 200, 200, 200)),
    ("get", "media/{media_key}/{variant}/", None, (404, 404, 404, 404, 404, 404)),
]
# fmt: on


@pytest.fixture
def world(make_user, make_room, make_member):
    host = make_user("host")
    member, outsider, banned, requester = (
        make_user(name) for name in ("member", "outsider", "banned", "requester")
    )
    staff = make_user("staff")
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    staff.groups.add(moderators_group())  # a site moderator
    room = make_room(owner=host, visibility=Room.Visibility.PUBLIC, title="Matrix room")
    room.is_web_public = False
    room.save(update_fields=["is_web_public"])
    member_ship = make_member(room, member, nickname="member")
    banned_ship = make_member(room, banned, nickname="banned")
    check_ban_member(room_id=room.pk, actor=host, member_id=banned_ship.pk)
    update_room(room_id=room.pk, actor=host, join_policy=Room.JoinPolicy.APPROVAL)
    request = join_room(room_id=room.pk, user=requester, nickname="asking")
    message = check_send_message(
        membership=active_membership(room_id=room.pk, user=member), body="hello"
    ).message
    invite = create_invite(room_id=room.pk, actor=host)
    post = create_status_post(author=host, body="My status")
    word_filter = check_add_room_filter(
        actor=host, room_id=room.pk, kind="word", text="forbidden", action="block"
    )
    upload = create_media_asset(owner=member, file=_png(), room=room)
    held = hold_message(membership=member_ship, body="held for review", rule_kind="word")
    private_owner = make_user("private_owner")
    private = make_room(owner=private_owner, visibility=Room.Visibility.PRIVATE, title="Hidden")
    private_member = active_membership(room_id=private.pk, user=private_owner)
    private_message = check_send_message(membership=private_member, body="secret").message
    starts_at = timezone.now() + timedelta(days=3)
    poll = create_poll(
        user=member,
        room_id=room.pk,
        question="Where?",
        options=["Here", "There"],
        is_anonymous=False,
    ).message.poll
    private_poll = create_poll(
        user=private_owner, room_id=private.pk, question="Secret?", options=["Yes", "No"]
    ).message.poll
    meetup = create_meetup(user=member, room_id=room.pk, title="Meet", starts_at=starts_at)
    private_meetup = create_meetup(
        user=private_owner, room_id=private.pk, title="Secret meet", starts_at=starts_at
    )
    return {
        "users": {
            "anonymous": None,
            "member": member,
            "non_member": outsider,
            "banned": banned,
            "host": host,
            "staff": staff,
        },
        "ids": {
            # a link card's image key nobody has (cards are public by their key)
            "link_key": "00000000-0000-4000-8000-000000000000",
            "room": room.pk,
            "member": member_ship.pk,
            "banned": banned_ship.pk,
            "request": request.pk,
            "message": message.pk,
            "invite": invite.code,
            "handle": host.profile.handle,
            "post": post.pk,
            "filter": word_filter.pk,
            "held": held.pk,
            "upload": upload.pk,
            "media_key": upload.key,
            "variant": "original",
            "notification": 999999,
            "platform": "fcm",
            "device": 999999,
            "private": private.pk,
            "private_member": private_member.pk,
            "private_message": private_message.pk,
            "missing": private.pk + 1000,
            "poll": poll.pk,
            "poll_option": poll.options.order_by("position").first().pk,
            "private_poll": private_poll.pk,
            "meetup": meetup.message.meetup.pk,
            "private_meetup": private_meetup.message.meetup.pk,
            "starts_at": starts_at.isoformat(),
        },
    }


def _png():
    image = io.BytesIO()
    Image.new("RGB", (4, 4), "teal").save(image, format="PNG")
    return SimpleUploadedFile("dot.png", image.getvalue(), content_type="image/png")


def _fill(value, ids: dict):
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    return value


CASES = [
    pytest.param(method, template, body, role, expected[index], id=f"{method} {template} {role}")
    for method, template, body, expected in MATRIX
    for index, role in enumerate(ROLES)
]


@pytest.mark.parametrize(("method", "template", "body", "role", "expected"), CASES)
def test_permission_matrix(world, method, template, body, role, expected):
    client = APIClient()
    user = world["users"][role]
    if user is not None:
        client.force_authenticate(user)
    url = "/api/v1/" + template.format(**world["ids"])
    response = getattr(client, method)(
        url, _fill(body, world["ids"]), format="json", HTTP_IDEMPOTENCY_KEY=f"matrix-{role}"
    )
    assert response.status_code == expected, response.content
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"code", "message", "fields"}


def test_the_table_covers_every_api_endpoint():
    from django.urls import get_resolver

    resolver = get_resolver()
    api_patterns = {
        route for route in _walk(resolver.url_patterns, "") if route.startswith("api/v1/")
    }
    tested = {
        "api/v1/" + template.split("?")[0].replace("{", "<").replace("}", ">")
        for _, template, _, _ in MATRIX
    }
    untested = {
        pattern for pattern in api_patterns if _normalise(pattern) not in map(_normalise, tested)
    }
    assert not untested, sorted(untested)


def _walk(patterns, prefix):
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern)


def _normalise(route: str) -> str:
    import re

    return re.sub(r"<[^>]+>", "<>", route)


# --- the can_* flags clients get -------------------------------------------------------------

FLAGS = (
    "can_read",
    "can_post",
    "can_moderate",
    "can_manage_members",
    "can_edit_room",
    "can_delete_any_message",
)
# fmt: off
# role: the flags in FLAGS order, as the room payload's ``viewer_permissions`` carries them
FLAG_MATRIX = {
    "member":     (1, 1, 0, 0, 0, 0),
    "non_member": (0, 0, 0, 0, 0, 0),
    "banned":     (0, 0, 0, 0, 0, 0),
    "host":       (1, 1, 1, 1, 1, 1),
    "staff":      (0, 0, 1, 0, 0, 0),
}
# Each flag promises what one row of MATRIX answers: a flag is set exactly where that
# endpoint succeeds, so a client that trusts the flags never shows a button that fails.
FLAG_ROWS = {
    "can_read": ("get", "rooms/{room}/messages/"),
    "can_post": ("post", "rooms/{room}/messages/"),
    "can_moderate": ("post", "rooms/{room}/slow-mode/"),
    "can_manage_members": ("get", "rooms/{room}/invites/"),
    "can_edit_room": ("patch", "rooms/{room}/"),
}
# fmt: on


@pytest.mark.parametrize("role", FLAG_MATRIX)
def test_the_room_payload_carries_the_viewers_can_flags(world, role):
    client = APIClient()
    client.force_authenticate(world["users"][role])
    expected = dict(zip(FLAGS, map(bool, FLAG_MATRIX[role]), strict=True))
    room = client.get(f"/api/v1/rooms/{world['ids']['room']}/").json()
    assert room["viewer_permissions"] == expected
    # The lists carry the same flags for the same room.
    listed = client.get("/api/v1/rooms/?q=Matrix").json()["results"]
    assert [item["viewer_permissions"] for item in listed if item["id"] == room["id"]] == [expected]


@pytest.mark.parametrize("flag", FLAG_ROWS)
def test_each_flag_agrees_with_the_endpoint_it_stands_for(flag):
    method, template = FLAG_ROWS[flag]
    statuses = next(row[3] for row in MATRIX if (row[0], row[1]) == (method, template))
    for role, flags in FLAG_MATRIX.items():
        succeeds = 200 <= statuses[ROLES.index(role)] < 300
        assert bool(flags[FLAGS.index(flag)]) == succeeds, (flag, role)


def test_a_muted_member_may_read_but_not_post(world):
    host, member = world["users"]["host"], world["users"]["member"]
    room_id = world["ids"]["room"]
    check_mute_member(actor=host, room_id=room_id, member_id=world["ids"]["member"], minutes=10)
    client = APIClient()
    client.force_authenticate(member)
    flags = client.get(f"/api/v1/rooms/{room_id}/").json()["viewer_permissions"]
    assert (flags["can_read"], flags["can_post"]) == (True, False)
    refused = client.post(f"/api/v1/rooms/{room_id}/messages/", {"body": "hi"}, format="json")
    assert refused.status_code == 403
