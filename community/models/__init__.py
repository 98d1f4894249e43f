from community.models.interests import Hashtag, Interest
from community.models.media import MediaAsset
from community.models.messages import Message, MessageEdit
from community.models.rooms import Membership, Room

__all__ = ["Hashtag", "Interest", "MediaAsset", "Membership", "Message", "MessageEdit", "Room"]
