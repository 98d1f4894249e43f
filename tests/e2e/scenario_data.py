"""Small, named data for the e2e scenarios, written straight through the services, and
the room page as a person sees it (open it, find a message, send one).

The browser does what the scenario is about; the rest (a host, a room, a first message)
is committed here first so each test takes seconds.
"""

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from playwright.sync_api import expect

from community.chat.services import check_send_message
from community.moderation.models import ModerationCase, Report
from community.rooms.models import Interest, Membership, Room
from community.rooms.services import create_room, join_room
from profiles.services import register_user
from tests.support.accounts import TEST_PASSWORD

INTERESTS = [
    ("jazz", "Jazz", "재즈", "ジャズ"),
    ("running", "Running", "달리기", "ランニング"),
    ("coffee", "Coffee", "커피", "コーヒー"),
]


def make_interests() -> dict[str, Interest]:
    return {
        slug: Interest.objects.create(slug=slug, name_en=en, name_ko=ko, name_ja=ja)
        for slug, en, ko, ja in INTERESTS
    }


def make_person(username: str, **kwargs):
    return register_user(username=username, password=TEST_PASSWORD, **kwargs)


def make_room(
    host, title: str = "Late-night jazz", *, nickname: str = "Host Cat", **kwargs
) -> Room:
    kwargs.setdefault("description", "Share a track you are listening to right now.")
    return create_room(owner=host, title=title, nickname=nickname, **kwargs)


def join(room: Room, user, nickname: str) -> Membership:
    return join_room(room_id=room.pk, user=user, nickname=nickname)


def say(room: Room, user, body: str):
    """A message by ``user`` (a member), sent before any browser has the room open."""
    membership = Membership.objects.get(room=room, user=user, state=Membership.State.ACTIVE)
    return check_send_message(membership=membership, body=body).message


def make_moderator(username: str = "mod"):
    """A staff member who works the moderation queue (the ``moderators`` group's rights).

    Earlier transactional tests flush the tables, after which the content-type cache may
    name rows that are gone; so the cache is cleared and the permissions made sure of.
    """
    moderator = make_person(username)
    moderator.is_staff = True
    moderator.save(update_fields=["is_staff"])
    ContentType.objects.clear_cache()
    permissions = []
    for model, actions in ((ModerationCase, ("view", "change")), (Report, ("view",))):
        content_type = ContentType.objects.get_for_model(model)
        for action in actions:
            codename = f"{action}_{model._meta.model_name}"
            permission, _ = Permission.objects.get_or_create(
                content_type=content_type, codename=codename, defaults={"name": codename}
            )
            permissions.append(permission)
    moderator.user_permissions.add(*permissions)
    return moderator


# --- helpers: the room page as a person sees it -------------------------------------------


def chat_log(page):
    return page.get_by_role("log", name="Messages")


def chat_message(page, text: str):
    return chat_log(page).get_by_role("listitem").filter(has_text=text)


def open_room(person, room):
    """Opens the room page and waits until the chat is live (its socket is open)."""
    page = person.goto(f"/rooms/{room.pk}/")
    expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()
    return page


def send(page, text: str):
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")
