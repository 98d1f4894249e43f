"""Korean and Japanese read as people write them: particles chosen by the word before
them, relative times ("방금", "3분 전", "たった今"), one honorific per name, and strings
that mean different things in different places ("Open", "Account") translated apart."""

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from community.chat.services import send_message
from community.notifications.services import notify_reaction
from community.rooms.models import Membership
from config.korean import particle_for, resolve_particles
from config.templatetags.moim_format import relative_time_text
from tests.support.accounts import TEST_PASSWORD, client_for


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("민지(으)로", "민지로"),
        ("준석(으)로", "준석으로"),
        ("하늘(으)로", "하늘로"),  # ㄹ takes 로
        ("민지이(가) 왔어요", "민지가 왔어요"),
        ("준석이(가) 왔어요", "준석이 왔어요"),
        ("사과을(를)", "사과를"),
        ("책을(를)", "책을"),
        ("민지은(는)", "민지는"),
        ("준석와(과)", "준석과"),
        ("“민지”(으)로 활동해요", "“민지”로 활동해요"),  # quotes are looked through
        ("3(으)로", "3으로"),
        ("1(으)로", "1로"),
        # Not Hangul: the bracket form stays, the way Korean writes foreign names.
        ("Minji(으)로", "Minji(으)로"),
        ("ミンジ이(가)", "ミンジ이(가)"),
    ],
)
def test_korean_particles_follow_the_final_syllable(text, expected):
    assert resolve_particles(text) == expected


def test_particle_for_a_single_word():
    assert particle_for("서울", "(으)로") == "로"
    assert particle_for("부산", "(으)로") == "으로"
    assert particle_for("", "이(가)") == "이(가)"


@pytest.mark.parametrize(
    ("language", "ago", "expected"),
    [
        ("ko", timedelta(seconds=10), "방금"),
        ("ko", timedelta(minutes=3), "3분 전"),
        ("ko", timedelta(hours=2), "2시간 전"),
        ("ko", timedelta(days=3), "3일 전"),
        ("ja", timedelta(seconds=0), "たった今"),
        ("ja", timedelta(minutes=11), "11分前"),
        ("ja", timedelta(hours=5), "5時間前"),
        ("en", timedelta(seconds=5), "just now"),
        ("en", timedelta(minutes=1), "1 minute ago"),
        ("en", timedelta(days=2), "2 days ago"),
    ],
)
def test_relative_times_say_ago(language, ago, expected):
    now = timezone.now()
    with translation.override(language):
        assert relative_time_text(now - ago, now=now) == expected


def test_relative_times_older_than_a_week_are_dates_in_the_locale_format():
    now = timezone.now()
    with translation.override("ko"):
        text = relative_time_text(now - timedelta(days=400), now=now)
    assert "년" in text and "전" not in text
    with translation.override("ja"):
        assert "年" in relative_time_text(now - timedelta(days=400), now=now)


@pytest.fixture
def reactions_from_three(make_user, make_room, make_member):
    author = make_user("author", locale="")
    room = make_room(owner=author, nickname="작가")
    message = send_message(membership=Membership.objects.get(room=room, user=author), body="hi")
    return author, room, message


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "one", "three"),
    [
        ("ko", "민지님이 ", "민지님 외 3명이 "),
        ("ja", "ミンジさんが", "ミンジさんほか3人が"),
        ("en", "민지 reacted", "민지 and 3 others reacted"),
    ],
)
def test_notification_names_carry_one_honorific(
    reactions_from_three, make_user, make_member, language, one, three
):
    author, room, message = reactions_from_three
    names = {"ko": "민지", "ja": "ミンジ", "en": "민지"}
    fan = make_user("fan", locale="")
    make_member(room, fan, nickname=names[language])
    notify_reaction(target=message, actor_membership_or_user=fan)
    client = client_for(author)
    headers = {"HTTP_ACCEPT_LANGUAGE": language}
    text = client.get("/api/v1/notifications/", **headers).json()["results"][0]["text"]
    assert text.startswith(one)
    for number in range(2):
        other = make_user(f"other{number}", locale="")
        make_member(room, other, nickname=f"Fan {number}")
        notify_reaction(target=message, actor_membership_or_user=other)
    # The newest actor comes first: react once more as the fan.
    notify_reaction(target=message, actor_membership_or_user=fan)
    text = client.get("/api/v1/notifications/", **headers).json()["results"][0]["text"]
    assert text.startswith(three)
    # (The count is of reactions, the fan's two included.)
    assert "명님" not in text and "人さん" not in text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "link", "account", "wrong"),
    [("ko", "열기", "계정", "처리 전"), ("ja", "開く", "アカウント", "未対応")],
)
def test_the_notification_link_and_account_menu_have_their_own_words(
    reactions_from_three, make_user, make_member, client, language, link, account, wrong
):
    _author, room, message = reactions_from_three
    fan = make_user("fan")
    make_member(room, fan, nickname="Fan")
    notify_reaction(target=message, actor_membership_or_user=fan)
    client.login(username="author", password=TEST_PASSWORD)
    page = client.get("/notifications/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert f">{link}</button>" in page
    assert wrong not in page
    assert f"<summary>{account}</summary>" in page
    assert "勘定" not in page
    # The times say "ago" ("방금", "たった今" for a reaction a moment old).
    assert {"ko": ">방금</time>", "ja": ">たった今</time>"}[language] in page


@pytest.mark.django_db
def test_my_rooms_picks_the_korean_particle_for_the_nickname(make_user, make_room):
    owner = make_user("owner", locale="ko")
    make_room(owner=owner, title="One", nickname="민지")
    make_room(owner=owner, title="Two", nickname="준석")
    make_room(owner=owner, title="Three", nickname="Minji")
    page = client_for(owner, session=True).get("/me/rooms/").content.decode()
    assert "민지로" in page and "준석으로" in page and "Minji(으)로" in page
    assert "민지(으)로" not in page


@pytest.mark.django_db
def test_tab_label_is_short_in_japanese(make_user, client):
    make_user("mina", locale="ja")
    client.login(username="mina", password=TEST_PASSWORD)
    page = client.get("/friends/").content.decode()
    assert "マイページ" in page
    assert "マイプロフィール</a>" not in page


@pytest.mark.parametrize(("language", "status"), [("ko", "처리 전"), ("ja", "未対応")])
def test_an_open_case_keeps_its_own_word(language, status):
    from community.moderation.models import Appeal, ModerationCase

    with translation.override(language):
        assert str(ModerationCase.Status.OPEN.label) == status
        assert str(Appeal.Status.OPEN.label) == status
        assert translation.pgettext("notification link", "Open") != status
