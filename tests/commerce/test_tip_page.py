"""The tip page opened from a message or the member list: it names the recipient by
room nickname, confirms the fee and the net, and the tip shows in the room."""

import pytest

from commerce.models import Tip
from community.chat.models import Message
from community.chat.services import send_message
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def members(make_user, make_room, make_member, fund):
    minji, haruto = make_user("minji_main"), make_user("haruto_main")
    room = make_room()
    minji_member = make_member(room, minji, nickname="Minji")
    make_member(room, haruto, nickname="Haruto")
    fund(haruto, 10_000)
    return room, minji, minji_member, haruto


def test_the_page_names_the_member_by_nickname_and_confirms_fee_and_net(
    members, django_capture_on_commit_callbacks, wallet_of
):
    room, minji, minji_member, haruto = members
    client = client_for(haruto, session=True)
    url = f"/wallet/tip/?membership={minji_member.pk}"
    page = client.get(url)
    text = page.content.decode()
    assert "Tip Minji" in text
    assert minji.profile.handle not in text and "minji_main" not in text
    assert "Shown with your tip in the chat." in text
    key = page.context["form"]["idempotency_key"].value()
    data = {
        "membership": minji_member.pk,
        "amount": "1,000",
        "currency": "KRW",
        "note": "Thank you",
        "idempotency_key": key,
    }
    review = client.post(url, data)
    assert review.status_code == 200
    confirm = review.content.decode()
    assert 'id="tip-confirm"' in confirm
    assert "₩1,000" in confirm and "₩100" in confirm and "₩900" in confirm
    assert not Tip.objects.exists()  # nothing is paid before the confirm
    # "Change" goes back to the filled-in form.
    back = client.post(url, {**data, "back": "1"})
    assert 'id="tip-confirm"' not in back.content.decode()
    assert back.context["form"]["note"].value() == "Thank you"
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(url, {**data, "confirmed": "1"})
    assert sent.status_code == 302
    assert sent["Location"] == f"/rooms/{room.pk}/"
    assert wallet_of(haruto) == 9000
    tip_message = Message.objects.get(room=room, kind=Message.Kind.TIP)
    assert tip_message.body == "Thank you"


def test_the_page_from_a_message_names_its_author(members):
    _room, _minji, minji_member, haruto = members
    message = send_message(membership=minji_member, body="hello")
    page = client_for(haruto, session=True).get(f"/wallet/tip/?message={message.pk}")
    assert "Tip Minji" in page.content.decode()


def test_a_member_of_another_room_is_not_found(members, make_user, make_room, make_member):
    _room, _minji, minji_member, _haruto = members
    outsider = make_user()
    make_member(make_room(), outsider)
    page = client_for(outsider, session=True).get(f"/wallet/tip/?membership={minji_member.pk}")
    assert page.status_code == 404


def test_the_member_list_has_a_tip_link_by_membership(members):
    room, _minji, minji_member, haruto = members
    page = client_for(haruto, session=True).get(f"/rooms/{room.pk}/members/").content.decode()
    assert f"/wallet/tip/?membership={minji_member.pk}" in page
    assert "Tip Minji" in page


def test_preset_amounts_are_one_tap_links_in_my_currency(members, fund):
    _room, _minji, minji_member, haruto = members
    haruto.currency = "JPY"
    haruto.save(update_fields=["currency"])
    fund(haruto, 3000, "JPY")
    client = client_for(haruto, session=True)
    page = client.get(f"/wallet/tip/?membership={minji_member.pk}").content.decode()
    for display in ("¥100", "¥500", "¥1,000"):
        assert display in page
    assert f"?membership={minji_member.pk}&amp;amount=500" in page
    form = client.get(f"/wallet/tip/?membership={minji_member.pk}&amount=500").context["form"]
    assert (form["amount"].value(), form["currency"].value()) == ("500", "JPY")
