"""pg_trgm and a GIN trigram index on ``Room.search_text`` (PostgreSQL only).

Trigram matching finds substrings in any script (Korean, Japanese, ...), unlike the
word-based full-text parsers. On SQLite both operations do nothing; search falls back
to a plain substring match there.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEX_NAME = "community_room_search_trgm"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX_NAME} ON community_room "
            "USING gin (search_text gin_trgm_ops)"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX_NAME}")


class Migration(migrations.Migration):
    dependencies = [("community", "0003_rooms_join_requests_invites_search")]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create_index, drop_index),
    ]
