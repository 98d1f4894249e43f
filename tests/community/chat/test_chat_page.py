"""The chat include renders what static/js/chat.js needs, and never user text as HTML."""

from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.test import RequestFactory

from community.access import room_permissions
from community.rooms.models import Membership

STATIC = Path(settings.BASE_DIR) / "static"


@pytest.mark.django_db
def test_chat_include_renders_the_client_configuration(make_room, make_user, make_member):
    room = make_room()
    member = make_member(room, make_user(), nickname="<b>sneaky</b>")
    request = RequestFactory().get("/")
    request.user = member.user
    html = render_to_string(
        "community/includes/chat.html",
        {
            "room": room,
            "membership": member,
            "permissions": room_permissions(room, user=member.user, membership=member),
        },
        request=request,
    )
    assert f'data-room-id="{room.pk}"' in html
    assert f'data-membership-id="{member.pk}"' in html
    # The client gets the server's can_* flags (community.access), never a role to reason on.
    assert 'data-can-post="1"' in html
    assert 'data-can-delete-any-message="0"' in html
    assert "data-is-host" not in html
    assert f'data-room-api-url="/api/v1/rooms/{room.pk}/"' in html
    assert f'data-socket-path="/ws/rooms/{room.pk}/"' in html
    assert f'data-history-url="/api/v1/rooms/{room.pk}/messages/"' in html
    assert 'data-message-url-template="/api/v1/messages/0/"' in html
    assert "js/chat.js" in html
    assert "css/chat.css" in html
    assert "csrfmiddlewaretoken" in html
    assert "<b>sneaky</b>" not in html

    host = Membership.objects.get(room=room, role=Membership.Role.OWNER)
    html = render_to_string(
        "community/includes/chat.html",
        {
            "room": room,
            "membership": host,
            "permissions": room_permissions(room, user=host.user, membership=host),
        },
        request=request,
    )
    assert 'data-can-delete-any-message="1"' in html
    assert 'data-can-moderate="1"' in html


def test_chat_client_takes_permissions_from_the_server_not_from_roles():
    script = (STATIC / "js" / "chat.js").read_text()
    assert "isHost" not in script
    # Roles are only labels (the badge); no permission is worked out from them.
    without_badge = script.replace('if (role === "owner")', "").replace(
        'if (role === "cohost")', ""
    )
    assert '"owner"' not in without_badge and '"cohost"' not in without_badge
    assert "event.permissions" in script and "viewer_permissions" in script


def test_chat_client_renders_user_text_as_text_and_calls_the_reaction_hooks():
    script = (STATIC / "js" / "chat.js").read_text()
    assert "innerHTML" not in script
    assert "insertAdjacentHTML" not in script
    assert "window.MoimReactions.renderBar(node, message)" in script
    assert "window.MoimReactions.onEvent(event)" in script
    assert (STATIC / "css" / "chat.css").exists()
