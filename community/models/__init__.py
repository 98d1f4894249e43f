from community.models.interests import Hashtag, Interest
from community.models.messages import Message, MessageEdit
from community.models.reactions import Reaction, ReactionCount, ReactionTarget
from community.models.rooms import Membership, Room

__all__ = [
    "Hashtag",
    "Interest",
    "Membership",
    "Message",
    "MessageEdit",
    "Reaction",
    "ReactionCount",
    "ReactionTarget",
    "Room",
]
