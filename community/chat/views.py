"""The chat pages of the web app: Chats (the signed-in home) and a room's chat screen.

Anyone who is not an active member of the room gets the room's page from the rooms
feature instead (its description, the preview, the join button); signed-out visitors
land on Discover.
"""

from django.shortcuts import render

from community import access
from community.chat.selectors import chat_list, message_payloads, room_history
from community.reactions.selectors import room_top_emoji
from community.rooms import views as room_views
from community.rooms.selectors import current_announcement, get_room_for_viewer
from config.errors import NotFoundError
from profiles.selectors import viewer_blocks_anyone

# Messages rendered with the chat screen, so it shows before the socket connects.
FIRST_SCREEN_MESSAGES = 50


def home(request):
    """Chats for a signed-in person (their rooms, latest activity first); Discover for
    everyone else, and for someone in no room yet (a new account starts by finding one)."""
    if not request.user.is_authenticated:
        return room_views.home(request)
    chats = chat_list(user=request.user)
    if not chats:
        return room_views.home(request)
    return render(request, "community/chats.html", {"chats": chats})


def room_page(request, room_id: int):
    """The chat screen for the room's active members; the room's page for anyone else."""
    user = request.user
    membership = access.active_membership(room_id=room_id, user=user, related=("room",))
    if membership is None:
        return room_views.room_detail(request, room_id)
    try:
        room = get_room_for_viewer(room_id=room_id, viewer=user)
    except NotFoundError:  # e.g. suspended for everyone but the moderators
        return room_views.room_detail(request, room_id)
    messages, has_more = room_history(room_id=room.pk, limit=FIRST_SCREEN_MESSAGES)
    first_page = {
        "results": message_payloads(
            messages, viewer=user, viewer_blocks_anyone=viewer_blocks_anyone(user)
        ),
        "has_more": has_more,
        "last_seq": room.last_message_seq,
        "last_read_seq": membership.last_read_seq,
    }
    chats = chat_list(user=user)
    level = next((c["level"] for c in chats if c["room_id"] == room.pk), "all")
    return render(
        request,
        "community/room_chat.html",
        {
            "room": room,
            "membership": membership,
            "permissions": access.room_permissions(room, user=user, membership=membership),
            "first_page": first_page,
            "top_emoji": room_top_emoji(room_id=room.pk),
            "chats": chats,
            "chat_level": level,
            # Not ``room.announcement``: a notice whose pinned message was hidden is gone.
            "announcement": current_announcement(room_id=room.pk),
        },
    )
