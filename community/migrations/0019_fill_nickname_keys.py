from django.db import migrations


def fill_nickname_keys(apps, schema_editor):
    """Fold every nickname; an active member whose nickname folds like an earlier one's
    in the same room (hosts first, then by join order) gets a numbered suffix, so the
    new unique index can be built."""
    # Frozen here (not imported from the rooms package) so later edits of the key cannot
    # change what this migration wrote.
    from profiles.text import lookalike_key

    def nickname_key(nickname: str) -> str:
        return lookalike_key(nickname)[:200]

    Membership = apps.get_model("community", "Membership")
    rank = {"owner": 0, "cohost": 1}
    rows = sorted(
        Membership.objects.only("id", "room_id", "nickname", "state", "role"),
        key=lambda m: (m.room_id, m.state != "active", rank.get(m.role, 2), m.id),
    )
    taken: set[tuple[int, str]] = set()
    for membership in rows:
        key = nickname_key(membership.nickname)
        if membership.state == "active":
            number = 2
            while (membership.room_id, key) in taken:
                suffix = f" ({number})"
                membership.nickname = membership.nickname[: 40 - len(suffix)] + suffix
                key = nickname_key(membership.nickname)
                number += 1
            taken.add((membership.room_id, key))
        membership.nickname_key = key
        membership.save(update_fields=["nickname", "nickname_key"])


class Migration(migrations.Migration):
    dependencies = [("community", "0018_member_blocks_rejoin_nickname_keys")]

    operations = [migrations.RunPython(fill_nickname_keys, migrations.RunPython.noop)]
