"""Each text limit is defined once (next to its model) and every door applies the same
one: the API, its published schema, the web form and the registration fallback."""

import re

import pytest

from community.rooms.models import NICKNAME_MAX_LENGTH
from profiles.models import (
    BIO_MAX_LENGTH,
    DISPLAY_NAME_MAX_LENGTH,
    STATUS_MESSAGE_MAX_LENGTH,
    Profile,
)

pytestmark = pytest.mark.django_db

LIMITS = {
    "display_name": DISPLAY_NAME_MAX_LENGTH,
    "bio": BIO_MAX_LENGTH,
    "status_message": STATUS_MESSAGE_MAX_LENGTH,
}


@pytest.mark.parametrize(("field", "limit"), LIMITS.items())
def test_the_api_takes_exactly_the_limit_and_refuses_one_more(user, client_for, field, limit):
    client = client_for(user)
    assert client.patch("/api/v1/me/", {field: "x" * limit}, format="json").status_code == 200
    response = client.patch("/api/v1/me/", {field: "y" * (limit + 1)}, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert getattr(Profile.objects.get(user=user), field) == "x" * limit


def test_the_schema_and_the_form_publish_the_same_limits(user, client):
    schema = client.get("/api/schema/?format=json").json()
    update = schema["components"]["schemas"]["PatchedMeUpdateRequest"]["properties"]
    assert {field: update[field]["maxLength"] for field in LIMITS} == LIMITS
    client.force_login(user)
    page = client.get("/settings/profile/").content.decode()
    for field, limit in LIMITS.items():
        tag = re.search(rf'<(?:input|textarea)[^>]*name="{field}"[^>]*>', page).group(0)
        assert f'maxlength="{limit}"' in tag


def test_a_long_username_registers_with_a_display_name_cut_to_the_limit(client):
    username = "u" * 120
    response = client.post(
        "/api/v1/auth/register/", {"username": username, "password": "a-long-pw-4242"}
    )
    assert response.status_code == 201
    profile = Profile.objects.get(user__username=username)
    assert profile.display_name == "u" * DISPLAY_NAME_MAX_LENGTH


def test_nickname_limit_is_the_same_for_joining_over_the_api(make_room, make_user, client_for):
    room = make_room()
    joiner = client_for(make_user())
    too_long = joiner.post(
        f"/api/v1/rooms/{room.pk}/join/", {"nickname": "n" * (NICKNAME_MAX_LENGTH + 1)}
    )
    assert too_long.status_code == 400
    fits = joiner.post(f"/api/v1/rooms/{room.pk}/join/", {"nickname": "n" * NICKNAME_MAX_LENGTH})
    assert fits.status_code == 201
