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
