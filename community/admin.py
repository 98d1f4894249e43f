"""Django's admin autodiscovery imports ``community.admin``: each feature package keeps its own
admin module, registered by importing it here."""

from community.chat import admin as chat_admin  # noqa: F401
from community.links import admin as links_admin  # noqa: F401
from community.media import admin as media_admin  # noqa: F401
from community.meetups import admin as meetups_admin  # noqa: F401
from community.moderation import admin as moderation_admin  # noqa: F401
from community.notifications import admin as notifications_admin  # noqa: F401
from community.polls import admin as polls_admin  # noqa: F401
from community.push import admin as push_admin  # noqa: F401
from community.reactions import admin as reactions_admin  # noqa: F401
from community.rooms import admin as rooms_admin  # noqa: F401
