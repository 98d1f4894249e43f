"""Who may see a room, and who may read what is said in it: the one rule every page,
endpoint and socket asks.

- *Seeing* a room (its card, page, member list): private and suspended rooms only to
  their members; to anyone else they are missing (404 page, API 404, socket 4404), with
  exactly a missing room's answer. Other rooms to anyone signed in; without an account
  only web-public ones.
- *Reading its messages* (history, the page's preview, sockets, reactions on messages):
  active members, and anyone for web-public rooms. A banned or departed member is not a
  member: they read nothing said after they went.
"""

from community.rooms.models import Room


def room_is_hidden_from_non_members(room: Room) -> bool:
    """Private and suspended rooms do not exist for people who are not in them."""
    return room.is_suspended or room.visibility == Room.Visibility.PRIVATE


def room_is_web_readable(room: Room) -> bool:
    """Readable by anyone, with or without an account."""
    return (
        room.is_web_public and room.visibility == Room.Visibility.PUBLIC and not room.is_suspended
    )


def can_see_room(room: Room, *, signed_in: bool, is_member: bool) -> bool:
    if is_member:
        return True
    if room_is_hidden_from_non_members(room):
        return False
    return signed_in or room_is_web_readable(room)


def can_read_room_content(room: Room, *, is_member: bool) -> bool:
    """``is_member``: an *active* membership."""
    return is_member or room_is_web_readable(room)
