"""Every page, rendered in Korean and in Japanese, signed in and out, shows no English
word outside user content and the brand (tests/support/english_words.py says what is
allowed and how user content is told apart).

The pages are listed in ``PAGES``: add a row when you add a page (its URL with
``{room}``, ``{member}``, ``{handle}``, ``{post}``... filled from the ``world`` below, and
who looks at it). The world's user content (titles, nicknames, names, posts) is Korean,
Japanese or Hebrew on purpose, so anything Latin left on a page is the interface's.
"""

from dataclasses import dataclass

import pytest
from django.test import Client

from community.chat.services import send_message
from community.moderation.services import check_kick_member
from community.notifications.services import notify_new_follower, notify_reaction
from community.rooms.models import Interest, Membership
from profiles.models import StatusPost
from profiles.services import follow_user
from tests.support.accounts import client_for
from tests.support.english_words import english_words, readable_text


@dataclass(frozen=True)
class Page:
    url: str
    who: str  # "anonymous", "member" (a member of the room), "host" (its owner), "visitor"
    status: int = 200


PAGES = [
    # Signed out
    Page("/", "anonymous"),
    Page("/rooms/", "anonymous"),
    Page("/accounts/login/", "anonymous"),
    Page("/accounts/signup/", "anonymous"),
    Page("/accounts/password/reset/", "anonymous"),
    Page("/accounts/password/reset/sent/", "anonymous"),
    Page("/no-such-page/", "anonymous", 404),
    # Someone not in the room
    Page("/rooms/{room}/", "visitor"),
    Page("/rooms/{room}/join/", "visitor"),
    Page("/people/", "visitor"),
    Page("/people/?q=민지", "visitor"),
    Page("/people/?q=없는사람", "visitor"),
    Page("/u/{member_handle}/block/", "visitor"),
    # A member
    Page("/", "member"),
    Page("/rooms/", "member"),
    Page("/rooms/?q=재즈", "member"),
    Page("/rooms/?q=없는방", "member"),
    Page("/rooms/new/", "member"),
    Page("/rooms/{room}/", "member"),
    Page("/rooms/{room}/members/", "member"),
    Page("/rooms/{room}/me/", "member"),
    Page("/rooms/{room}/invite/", "member"),
    Page("/rooms/{room}/leave/", "member"),
    Page("/me/rooms/", "member"),
    Page("/notifications/", "member"),
    Page("/friends/", "member"),
    Page("/people/", "member"),
    Page("/u/{member_handle}/", "member"),
    Page("/u/{host_handle}/", "member"),
    Page("/settings/profile/", "member"),
    Page("/settings/preferences/", "member"),
    Page("/settings/account/", "member"),
    Page("/accounts/password/", "member"),
    Page("/wallet/", "member"),
    Page("/wallet/statement/", "member"),
    Page("/wallet/topup/", "member"),
    Page("/fees/", "member"),
    Page("/wallet/rooms/{room}/", "member"),
    Page("/appeals/", "member"),
    Page("/appeals/new/", "member"),
    Page("/report/room/{room}/", "member"),
    # The room's host
    Page("/rooms/{room}/edit/", "host"),
    Page("/rooms/{room}/members/", "host"),
    Page("/rooms/{room}/requests/", "host"),
    Page("/rooms/{room}/moderation/", "host"),
    Page("/rooms/{room}/members/{member}/confirm/kick/", "host"),
    Page("/rooms/{room}/members/{member}/confirm/ban/", "host"),
    Page("/rooms/{room}/members/{member}/confirm/transfer/", "host"),
    Page("/rooms/{room}/members/{kicked}/kicked/", "host"),
    Page("/wallet/rooms/{room}/price/", "host"),
    Page("/notifications/", "host"),
]


@pytest.fixture
def world(make_user, make_room, make_member, db):
    interest = Interest.objects.create(
        slug="jazz", name_en="Jazz", name_ko="재즈", name_ja="ジャズ", room_count=1
    )
    host = make_user("hyun", display_name="현우", locale="")
    room = make_room(
        owner=host,
        title="재즈 카페 ジャズ喫茶",
        description="מוזיקה 음악 音楽",
        language="ko",
        interests=[interest],
        hashtags=["비밥"],
        nickname="호스트",
        is_open_profile=False,
    )
    member = make_user("mina", display_name="김민지", locale="")
    membership = make_member(room, member, nickname="민지", is_open_profile=False)
    kicked_user = make_user("kicked", display_name="쫓겨난", locale="")
    kicked = make_member(room, kicked_user, nickname="나간사람")
    check_kick_member(actor=host, room_id=room.pk, member_id=kicked.pk)
    visitor = make_user("visitor", display_name="방문자", locale="")
    follow_user(follower=member, followee=host)
    follow_user(follower=host, followee=member)
    follow_user(follower=visitor, followee=host)
    StatusPost.objects.create(author=host, body="오늘은 재즈 ジャズの日")
    message = send_message(
        membership=Membership.objects.get(room=room, user=host), body="안녕하세요 こんにちは"
    )
    notify_reaction(target=message, actor_membership_or_user=membership)
    notify_new_follower(follower=visitor, followed=host)
    return {
        "users": {"host": host, "member": member, "visitor": visitor},
        "values": {
            "room": room.pk,
            "member": membership.pk,
            "kicked": kicked.pk,
            "member_handle": member.profile.handle,
            "host_handle": host.profile.handle,
        },
    }


def client_as(world, who: str) -> Client:
    if who == "anonymous":
        return Client()
    return client_for(world["users"][who], session=True)


@pytest.mark.parametrize("language", ["ko", "ja"])
def test_no_english_is_left_on_any_page(world, language):
    found = {}
    clients = {}
    for page in PAGES:
        client = clients.setdefault(page.who, client_as(world, page.who))
        url = page.url.format(**world["values"])
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == page.status, (url, page.who)
        html = response.content.decode()
        assert f'<html lang="{language}"' in html, url
        words = english_words(html)
        if words:
            found[f"{page.who} {url}"] = words
    assert found == {}, "\n".join(f"{page}: {words}" for page, words in found.items())


def test_the_sweep_finds_english_and_skips_user_content():
    page = (
        '<html lang="ko"><title>방 · Moim</title><body><h1>Discover rooms</h1>'
        '<p dir="auto">Jazz <b>nights</b> by a user</p>'
        '<input placeholder="Search rooms"><span data-user-content>hello</span>'
        "<p>₩1,000 KRW · Asia/Seoul · mina@example.com · @mina · https://moim.example/</p>"
        "<script>var english = 1;</script></body></html>"
    )
    assert english_words(page) == ["Discover", "Search", "rooms"]
    assert "Jazz" not in readable_text(page)
