"""Versions of cached scopes (config/cache_versions.py): a writer's transaction renews
them once it commits, all in one round trip; its own reads see its writes before that."""

import pytest
from django.core.cache import cache
from django.db import transaction

from community.chat.selectors import membership_for_user
from community.chat.services import check_send_message
from config.cache_versions import current_version, renew_pending_versions, renew_versions


@pytest.fixture
def version_writes(monkeypatch):
    """Every cache write of a version key, as the list of keys each call wrote."""
    writes: list[list[str]] = []
    real_set, real_set_many = cache.set, cache.set_many

    in_set_many = []  # some backends' set_many calls set for each key: one write

    def spy_set(key, value, *args, **kwargs):
        if "version" in key and not in_set_many:
            writes.append([key])
        return real_set(key, value, *args, **kwargs)

    def spy_set_many(mapping, *args, **kwargs):
        if any("version" in key for key in mapping):
            writes.append(sorted(mapping))
        in_set_many.append(True)
        try:
            return real_set_many(mapping, *args, **kwargs)
        finally:
            in_set_many.pop()

    monkeypatch.setattr(cache, "set", spy_set)
    monkeypatch.setattr(cache, "set_many", spy_set_many)
    return writes


def version(key: str) -> str:
    return current_version(cache.get_many([key]), key)


@pytest.mark.django_db(transaction=True)
def test_a_transaction_renews_its_versions_once_it_commits_in_one_write(version_writes):
    a, b = version("t:version:a"), version("t:version:b")
    version_writes.clear()  # creating them (a plain ``set`` on some backends)
    with transaction.atomic():
        renew_versions(["t:version:a"], what="pages")
        renew_versions(["t:version:b", "t:version:a"], what="counts")
        # Others still use what they stored: they cannot see the writes yet.
        assert (version("t:version:a"), version("t:version:b")) == (a, b)
        assert version_writes == []
    assert version_writes == [["t:version:a", "t:version:b"]]
    assert version("t:version:a") != a and version("t:version:b") != b


@pytest.mark.django_db(transaction=True)
def test_the_writers_own_reads_get_a_new_version_before_the_commit(version_writes):
    a = version("t:version:a")
    version_writes.clear()
    with transaction.atomic():
        renew_versions(["t:version:a"], what="pages")
        renew_pending_versions(["t:version:a", "t:version:other"])
        renewed = version("t:version:a")
        assert renewed != a
        renew_pending_versions(["t:version:a"])  # nothing written since: kept
        assert version("t:version:a") == renewed
        assert version_writes == [["t:version:a"]]
    # Renewed again at the commit: an entry someone stored meanwhile is dropped.
    assert version_writes == [["t:version:a"], ["t:version:a"]]
    assert version("t:version:a") not in (a, renewed)


@pytest.mark.django_db(transaction=True)
def test_writes_rolled_back_renew_nothing(version_writes):
    a = version("t:version:a")
    version_writes.clear()
    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            renew_versions(["t:version:a"], what="pages")
            raise RuntimeError("the write failed")
        renew_pending_versions(["t:version:a"])
    assert version_writes == []
    assert version("t:version:a") == a


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_version_is_renewed_at_once(version_writes):
    a = version("t:version:a")
    version_writes.clear()
    renew_versions(["t:version:a"], what="pages")
    assert version_writes == [["t:version:a"]]
    assert version("t:version:a") != a


@pytest.mark.django_db(transaction=True)
def test_a_chat_send_renews_the_rooms_versions_in_one_write_after_it_commits(
    make_user, make_room, make_member, version_writes
):
    room = make_room(owner=make_user("vhost"))
    alice = make_member(room, make_user("valice"), nickname="Alice")
    bob = make_member(room, make_user("vbob"), nickname="Bob")
    check_send_message(membership=bob, body="so alice is behind")
    version_writes.clear()
    fresh = membership_for_user(room_id=room.pk, user_id=alice.user_id)
    assert check_send_message(membership=fresh, body="hello").created
    # The room's history pages and its read counts (the author read Bob's message).
    assert len(version_writes) == 1
    assert any("history-version" in key for key in version_writes[0])
    assert any("reads:room-version" in key for key in version_writes[0])
