"""Search inside a room: an n-gram GIN index on ``Message.body`` (PostgreSQL only).

``moim_message_grams(room_id, body)`` lists the lower-cased single characters, pairs and
triples of characters of a message (none spanning a space), each prefixed with the room
id, so one index key holds one room's messages only. ``moim_search_grams(room_id, term)``
is what a term needs: its triples (three characters or more), its pair (two) or its
character (one). ``index @> search grams`` finds the candidates for a term of any length
in any script, which a pg_trgm index does not for one- and two-character Korean and
Japanese words (docs/search.md); ``ILIKE`` and the word pattern then check them.

On SQLite both operations do nothing: search scans the room there. The index is built
``CONCURRENTLY`` (outside a transaction) so a live database keeps taking messages.
"""

from django.db import migrations

INDEX_NAME = "community_message_search_grams"
# Spaces never sit inside a gram: terms are split on them.
_SPACES = "(' ', E'\\n', E'\\t', E'\\r', U&'\\3000')"
_SPACES_OR_END = "('', ' ', E'\\n', E'\\t', E'\\r', U&'\\3000')"

CREATE_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION moim_message_grams(room bigint, body text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  t text := lower(body);
  prefix text := room::text || ':';
  grams text[] := '{{}}';
  first_char text;
  second_char text;
  third_char text;
BEGIN
  FOR i IN 1..length(t) LOOP
    first_char := substr(t, i, 1);
    CONTINUE WHEN first_char IN {_SPACES};
    grams := grams || (prefix || first_char);
    second_char := substr(t, i + 1, 1);
    CONTINUE WHEN second_char IN {_SPACES_OR_END};
    grams := grams || (prefix || first_char || second_char);
    third_char := substr(t, i + 2, 1);
    CONTINUE WHEN third_char IN {_SPACES_OR_END};
    grams := grams || (prefix || first_char || second_char || third_char);
  END LOOP;
  RETURN grams;
END $$;

CREATE OR REPLACE FUNCTION moim_search_grams(room bigint, term text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  t text := lower(term);
  prefix text := room::text || ':';
  size int := least(length(t), 3);
  grams text[] := '{{}}';
BEGIN
  FOR i IN 1..length(t) - size + 1 LOOP
    grams := grams || (prefix || substr(t, i, size));
  END LOOP;
  RETURN grams;
END $$;
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(CREATE_FUNCTIONS)
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX_NAME} ON community_message "
        "USING gin (moim_message_grams(room_id, body)) WHERE deleted_at IS NULL"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX_NAME}")
    schema_editor.execute("DROP FUNCTION IF EXISTS moim_search_grams(bigint, text)")
    schema_editor.execute("DROP FUNCTION IF EXISTS moim_message_grams(bigint, text)")


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [('community', '0027_announcement_pinned_message')]

    operations = [migrations.RunPython(create, drop)]
