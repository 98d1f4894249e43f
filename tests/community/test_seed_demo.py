from io import StringIO

import pytest
from django.core.management import call_command

from community.chat.models import Message
from community.reactions.models import Reaction
from community.rooms.models import Interest, Membership, Room
from profiles.models import Profile, User

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    return {
        "interests": Interest.objects.count(),
        "users": User.objects.count(),
        "profiles": Profile.objects.count(),
        "rooms": Room.objects.count(),
        "memberships": Membership.objects.count(),
        "messages": Message.objects.count(),
        "reactions": Reaction.objects.count(),
    }


def test_seed_demo_is_idempotent_and_makes_pages_look_alive(client):
    call_command("seed_demo", stdout=StringIO())
    first = counts()
    assert first["users"] == 50 == first["profiles"]
    assert 18 <= first["rooms"] <= 25
    assert first["messages"] >= 200
    assert first["reactions"] >= 100
    assert first["interests"] >= 10
    languages = set(Room.objects.values_list("language", flat=True))
    assert {"en", "ko", "ja"} <= languages
    assert Interest.objects.exclude(name_ko="").exclude(name_ja="").count() == first["interests"]

    call_command("seed_demo", stdout=StringIO())
    assert counts() == first

    # Message sequence numbers are gap-free per room.
    for room in Room.objects.all():
        seqs = list(room.messages.order_by("seq").values_list("seq", flat=True))
        assert seqs == list(range(1, len(seqs) + 1))
        assert room.member_count == room.memberships.filter(state="active").count()

    response = client.get("/")
    assert response.status_code == 200
    assert "케이팝 덕질방" in response.content.decode()


def test_seed_demo_if_empty_leaves_existing_data_alone(make_room):
    make_room(title="Only room")
    out = StringIO()
    call_command("seed_demo", "--if-empty", stdout=out)
    assert Room.objects.count() == 1
    assert "not loaded" in out.getvalue()
