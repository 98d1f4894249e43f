"""The ledger in the Django admin: read-only lists with a fixed number of queries."""

import pytest

from commerce.models import Transfer
from commerce.services import send_tip

pytestmark = pytest.mark.django_db

CHANGELISTS = [
    "account",
    "transfer",
    "payoutrequest",
    "roomprice",
    "roomaccess",
    "topup",
    "tip",
    "webhookevent",
    "idempotencykey",
]


@pytest.fixture
def activity(make_user, fund):
    def make(count: int) -> None:
        fan, creator = make_user(), make_user()
        for _ in range(count):
            fund(fan, 100)
            send_tip(sender=fan, amount=10, currency="KRW", recipient_handle=creator.profile.handle)

    return make


@pytest.mark.parametrize("count", [3, 30])
@pytest.mark.parametrize("model", CHANGELISTS)
def test_changelists_run_a_fixed_number_of_queries(
    admin_client, activity, count, model, django_assert_max_num_queries
):
    activity(count)
    with django_assert_max_num_queries(12):
        response = admin_client.get(f"/admin/commerce/{model}/")
    assert response.status_code == 200


def test_transfer_page_shows_its_legs_and_cannot_be_edited(admin_client, activity):
    activity(1)
    transfer = Transfer.objects.filter(kind=Transfer.Kind.TIP).get()
    page = admin_client.get(f"/admin/commerce/transfer/{transfer.pk}/change/")
    assert page.status_code == 200
    assert b"balance_after" in page.content or b"Balance after" in page.content
    assert admin_client.post(f"/admin/commerce/transfer/{transfer.pk}/delete/").status_code == 403
    assert admin_client.get("/admin/commerce/transfer/add/").status_code == 403


def test_staff_refund_a_tip_from_the_admin(admin_client, activity):
    activity(1)
    tip = Transfer.objects.get(kind=Transfer.Kind.TIP)
    admin_client.post(
        "/admin/commerce/transfer/", {"action": "refund", "_selected_action": [tip.pk]}
    )
    assert Transfer.objects.filter(reverses=tip).count() == 1
