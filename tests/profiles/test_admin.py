import itertools

import pytest

from profiles.models import Block, Follow, StatusPost

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_web(client, make_user):
    admin = make_user("admin")
    admin.is_staff = admin.is_superuser = True
    admin.save(update_fields=["is_staff", "is_superuser"])
    client.force_login(admin)
    return client


@pytest.mark.parametrize("count", [3, 30])
@pytest.mark.parametrize(
    "url",
    [
        "/admin/profiles/user/",
        "/admin/profiles/statuspost/",
        "/admin/profiles/follow/",
        "/admin/profiles/block/",
    ],
)
def test_admin_changelists_run_fixed_queries(
    admin_web, make_user, count, url, django_assert_max_num_queries
):
    users = [make_user() for _ in range(count)]
    StatusPost.objects.bulk_create(StatusPost(author=u, body="x") for u in users)
    Follow.objects.bulk_create(Follow(follower=a, followee=b) for a, b in itertools.pairwise(users))
    Block.objects.bulk_create(Block(blocker=a, blocked=b) for a, b in itertools.pairwise(users))
    with django_assert_max_num_queries(12):
        response = admin_web.get(url)
    assert response.status_code == 200


def test_admin_searches_users_by_handle(admin_web, make_user):
    make_user("findme")
    response = admin_web.get("/admin/profiles/user/", {"q": "findme"})
    assert "findme" in response.content.decode()


def test_moderators_delete_accounts_by_anonymising_them(admin_web, make_user, make_room):
    from profiles.models import User

    spammer = make_user("spammer")
    make_room(owner=spammer, title="Spam")  # the room owner FK would block a hard delete
    StatusPost.objects.create(author=spammer, body="buy now")
    response = admin_web.post(
        "/admin/profiles/user/",
        {"action": "delete_accounts_and_messages", "_selected_action": [spammer.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "1 account deleted." in response.content.decode()
    spammer = User.objects.get(pk=spammer.pk)
    assert not spammer.is_active
    assert spammer.username.startswith("~deleted-")
    assert not StatusPost.objects.filter(author=spammer).exists()


def test_the_hard_delete_action_is_not_offered(admin_web, make_user):
    page = admin_web.get("/admin/profiles/user/").content.decode()
    assert "delete_selected" not in page
    assert "delete_accounts_keeping_messages" in page


def test_non_staff_cannot_delete_other_accounts(make_user):
    from config.errors import PermissionDeniedError
    from profiles.services import delete_account_as_moderator

    with pytest.raises(PermissionDeniedError):
        delete_account_as_moderator(
            actor=make_user("nobody"), user_id=make_user("victim").pk, delete_messages=True
        )
