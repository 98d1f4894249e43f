from community.models.interests import Hashtag, Interest
from community.models.media import MediaAsset
from community.models.messages import Message, MessageEdit
from community.models.moderation import (
    Appeal,
    AuditLogEntry,
    BlockedPattern,
    HeldMessage,
    ModerationCase,
    Report,
    ReportReason,
    RoomAnnouncement,
)
from community.models.notifications import (
    MessageMention,
    Notification,
    NotificationSettings,
    RoomNotificationLevel,
)
from community.models.reactions import Reaction, ReactionCount, ReactionTarget
from community.models.rooms import JoinRequest, MemberBlock, Membership, Room, RoomInvite

__all__ = [
    "Appeal",
    "AuditLogEntry",
    "BlockedPattern",
    "Hashtag",
    "HeldMessage",
    "Interest",
    "JoinRequest",
    "MediaAsset",
    "MemberBlock",
    "Membership",
    "Message",
    "MessageEdit",
    "MessageMention",
    "ModerationCase",
    "Notification",
    "NotificationSettings",
    "Reaction",
    "ReactionCount",
    "ReactionTarget",
    "Report",
    "ReportReason",
    "Room",
    "RoomAnnouncement",
    "RoomInvite",
    "RoomNotificationLevel",
]
