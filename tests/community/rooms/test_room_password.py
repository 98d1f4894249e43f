"""Room passwords: guesses are throttled per person and per room (a refused guess never
reaches the hasher), and the password is checked before the room's lock is taken, so
guessers cannot slow down the room's chat."""

import threading

import pytest
from django.db import connection, connections

from community.chat.models import Message
from community.rooms.models import Membership
from community.rooms.services import create_room
from tests.community.password_hashers import PATH, ObservedHasher
from tests.support.accounts import client_for

PASSWORD = "open sesame"


@pytest.fixture
def password_room(make_user, settings):
    settings.PASSWORD_HASHERS = [PATH]
    settings.ROOM_PASSWORD_GUESS_LIMIT = 5
    settings.ROOM_PASSWORD_ROOM_GUESS_LIMIT = 50
    settings.ROOM_PASSWORD_GUESS_WINDOW_SECONDS = 900
    ObservedHasher.reset()
    owner = make_user("pwowner")
    room = create_room(
        owner=owner,
        title="Locked jazz",
        nickname="Owner",
        join_policy="password",
        password=PASSWORD,
    )
    ObservedHasher.reset()
    yield room
    ObservedHasher.reset()


def api_join(user, room, password):
    client = client_for(user)
    return client.post(
        f"/api/v1/rooms/{room.pk}/join/",
        {"nickname": f"n{user.pk}", "password": password},
        format="json",
    )


@pytest.mark.django_db
def test_api_guesses_are_throttled_per_person_without_checking_the_password(
    password_room, make_user
):
    guesser = make_user("guesser")
    codes = [api_join(guesser, password_room, f"guess{n}").status_code for n in range(5)]
    assert codes == [403] * 5
    assert ObservedHasher.checks == 5
    refused = api_join(guesser, password_room, PASSWORD)  # even the right one, for now
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_password_attempts"
    assert int(refused["Retry-After"]) > 0
    assert ObservedHasher.checks == 5  # the throttled guess never reached the hasher
    assert not Membership.objects.filter(room=password_room, user=guesser).exists()
    # Someone else is not held back by this guesser.
    assert api_join(make_user("friend"), password_room, PASSWORD).status_code == 201


@pytest.mark.django_db
def test_the_web_form_says_to_wait(password_room, make_user):
    guesser = make_user("webguesser")
    client = client_for(guesser, session=True)
    url = f"/rooms/{password_room.pk}/join/"
    form = {"nickname": "Webby", "password": "nope", "is_open_profile": "on"}
    for _ in range(5):
        page = client.post(url, form)
        assert page.status_code == 200
        assert "Wrong room password." in page.content.decode()
    page = client.post(url, {**form, "password": PASSWORD})
    assert page.status_code == 200
    assert "Too many password attempts for this room" in page.content.decode()
    assert ObservedHasher.checks == 5
    assert not Membership.objects.filter(room=password_room, user=guesser).exists()


@pytest.mark.django_db
def test_the_right_password_starts_the_persons_count_again(password_room, make_user):
    member = make_user("forgetful")
    assert [api_join(member, password_room, "no").status_code for _ in range(4)] == [403] * 4
    assert api_join(member, password_room, PASSWORD).status_code == 201
    client = client_for(member)
    assert client.post(f"/api/v1/rooms/{password_room.pk}/leave/").status_code in (200, 204)
    assert [api_join(member, password_room, "no").status_code for _ in range(5)] == [403] * 5


@pytest.mark.django_db
def test_guesses_are_throttled_per_room_across_people(password_room, make_user, settings):
    settings.ROOM_PASSWORD_ROOM_GUESS_LIMIT = 3
    codes = [api_join(make_user(), password_room, "no").status_code for _ in range(4)]
    assert codes == [403, 403, 403, 429]
    assert ObservedHasher.checks == 3


@pytest.mark.django_db
def test_a_banned_or_private_room_answer_is_unchanged(password_room, make_user):
    """The throttle and the check come after the answers that say nothing about the
    password: a private room stays a 404 however often one asks."""
    from community.rooms.services import create_room as make

    private = make(
        owner=make_user(),
        title="Hidden",
        nickname="H",
        visibility="private",
        join_policy="password",
        password=PASSWORD,
    )
    guesser = make_user()
    assert [api_join(guesser, private, "x").status_code for _ in range(7)] == [404] * 7
    assert ObservedHasher.checks == 0


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_send_in_the_room_is_not_held_up_while_a_password_is_checked(
    password_room, make_user, make_member
):
    """Hold a guess inside the password check, then send in the room: the send must not
    wait for the guess (on the old code the guess held the room's row lock there)."""
    member = make_user("talker")
    make_member(password_room, member, password=PASSWORD)
    guesser = make_user("slowguesser")
    ObservedHasher.reset()
    ObservedHasher.gate = threading.Event()
    answers = []

    def guess():
        try:
            answers.append(api_join(guesser, password_room, "wrong").status_code)
        finally:
            connections.close_all()

    thread = threading.Thread(target=guess)
    thread.start()
    try:
        assert ObservedHasher.entered.wait(10), "the guess never reached the password check"
        # A safety net only: a send that waited on the lock fails instead of hanging.
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '3s'")
        client = client_for(member)
        sent = client.post(
            f"/api/v1/rooms/{password_room.pk}/messages/", {"body": "still here"}, format="json"
        )
        assert sent.status_code == 201, sent.content
    finally:
        ObservedHasher.gate.set()
        thread.join(20)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")
    assert answers == [403]
    assert Message.objects.filter(room=password_room, body="still here").exists()
