"""The session engine (``SESSION_ENGINE``): Django's database sessions, with the read
every signed-in page starts with compiled once per process.

Building ``Session.objects.get(session_key=…, expire_date__gt=now)`` through the ORM cost
more CPU than PostgreSQL spends running it (docs/performance.md, "Discover and room
pages"). The row is read by its key (config/compiled_queries.py) and its expiry checked
here: the same answer, the same table, so sessions written before the engine changed
stay valid. Everything else (saving, cycling the key, deleting, the async reads) is
Django's.
"""

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from config.compiled_queries import CompiledQuery

_SESSION_BY_KEY = CompiledQuery(
    Session, lambda key: Session.objects.filter(session_key=key).order_by(), kinds=(str,)
)


class SessionStore(DatabaseSessionStore):
    def _get_session_from_db(self):
        session = _SESSION_BY_KEY.first(self.session_key)
        if session is None or session.expire_date <= timezone.now():
            self._session_key = None
            return None
        return session
