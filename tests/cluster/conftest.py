"""A ``replica`` alias mirroring the test database, as Django tests a read replica.

Added at collection (before any connection opens), so the test database setup knows it
as a mirror of ``default``; nothing is routed to it unless a test turns the router on
with ``settings.DATABASE_REPLICA_ALIAS = "replica"`` (the ``replica`` fixture).
"""

import pytest
from django.conf import settings

if "replica" not in settings.DATABASES:
    settings.DATABASES["replica"] = {
        **settings.DATABASES["default"],
        "TEST": {**settings.DATABASES["default"].get("TEST", {}), "MIRROR": "default"},
    }


@pytest.fixture
def replica(settings):
    settings.DATABASE_REPLICA_ALIAS = "replica"
    settings.DATABASE_REPLICA_READ_PRIMARY_SECONDS = 10
    return "replica"
