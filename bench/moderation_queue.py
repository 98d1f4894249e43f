"""Time the moderators' queue and audit log changelists at 100,000 rows.

Run against a scratch PostgreSQL database (it adds rows and does not remove them):

    DATABASE_URL=postgres://.../scratch .venv/bin/python bench/moderation_queue.py
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from community.moderation.models import AuditLogEntry, ModerationCase  # noqa: E402
from community.rooms.models import Room  # noqa: E402
from profiles.models import User  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "100000"))


def main() -> None:
    call_command("migrate", verbosity=0)
    admin, _ = User.objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    owner, _ = User.objects.get_or_create(username="bench-owner")
    room = Room.objects.filter(title="bench room").first() or Room.objects.create(
        title="bench room", owner=owner
    )
    missing = ROWS - ModerationCase.objects.count()
    if missing > 0:
        started = time.monotonic()
        ModerationCase.objects.bulk_create(
            [
                ModerationCase(
                    target_type="room",
                    target_key=f"bench:{i}",
                    room=room,
                    subject=owner,
                    status="open" if i % 3 else "dismissed",
                    severity=(i * 7) % 50,
                    top_reason="spam",
                    reporter_count=i % 17,
                )
                for i in range(missing)
            ],
            batch_size=5000,
        )
        AuditLogEntry.objects.bulk_create(
            [
                AuditLogEntry(
                    actor=admin,
                    action="warn",
                    target_type="user",
                    target_id=owner.pk,
                    target_repr="bench",
                    subject=owner,
                    room=room,
                )
                for _ in range(missing)
            ],
            batch_size=5000,
        )
        print(f"inserted {missing} cases and audit entries in {time.monotonic() - started:.1f}s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE community_moderationcase; ANALYZE community_auditlogentry;")
    client = Client()
    client.force_login(admin)
    for url in (
        "/admin/community/moderationcase/",
        "/admin/community/moderationcase/?status=all",
        "/admin/community/auditlogentry/",
    ):
        client.get(url)  # warm up
        timings = []
        for _ in range(5):
            reset_queries()
            with CaptureQueriesContext(connection) as queries:
                started = time.monotonic()
                response = client.get(url)
                timings.append((time.monotonic() - started) * 1000)
            assert response.status_code == 200
        timings.sort()
        print(f"{url}: median {timings[2]:.0f} ms, {len(queries)} queries")


if __name__ == "__main__":
    main()
