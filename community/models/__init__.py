from community.models.interests import Hashtag, Interest
from community.models.messages import Message, MessageEdit
from community.models.reactions import Reaction, ReactionCount, ReactionTarget
from community.models.rooms import JoinRequest, Membership, Room, RoomInvite

__all__ = [
    "Hashtag",
    "Interest",
    "JoinRequest",
    "Membership",
    "Message",
    "MessageEdit",
    "Reaction",
    "ReactionCount",
    "ReactionTarget",
    "Room",
    "RoomInvite",
]
