"""Django loads an app's models from ``<app>.models``: this module only imports each
feature package's models so they register under the ``community`` label (one app, one
migration history). Code imports a model from the package that owns it
(``community.rooms.models``, ``community.chat.models``, …), never from here; an
import-linter contract holds that."""

from community.chat.models import *  # noqa: F403
from community.links.models import *  # noqa: F403
from community.media.models import *  # noqa: F403
from community.meetups.models import *  # noqa: F403
from community.moderation.models import *  # noqa: F403
from community.notifications.models import *  # noqa: F403
from community.polls.models import *  # noqa: F403
from community.reactions.models import *  # noqa: F403
from community.rooms.models import *  # noqa: F403
from community.translation.models import *  # noqa: F403
