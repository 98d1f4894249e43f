"""Tips and settled payouts notify the creator; a refused tip notifies nobody."""

import pytest

from commerce.services import send_tip
from commerce.services.payouts import approve_payout, request_payout, settle_payout
from community.chat.services import send_message
from community.notifications.models import Notification
from community.rooms.models import Membership
from config.errors import DomainError

pytestmark = pytest.mark.django_db


def test_a_tip_on_a_message_names_the_tipper_by_room_nickname(
    make_user, make_room, make_member, fund, eager_tasks, django_capture_on_commit_callbacks
):
    creator = make_user("creator")
    room = make_room(owner=creator, nickname="Singer")
    fan = make_user("fan", display_name="Real Fan Name")
    make_member(room, fan, nickname="Night Owl")
    message = send_message(membership=Membership.objects.get(user=creator), body="new song")
    fund(fan, 10_000)
    with django_capture_on_commit_callbacks(execute=True):  # the task queued on commit
        tip, _recipient = send_tip(sender=fan, amount=1000, currency="KRW", message_id=message.pk)
    row = Notification.objects.get(recipient=creator)
    assert (row.kind, row.actor_labels) == ("tip", ["Night Owl"])
    assert (row.data["amount"], row.data["currency"], row.data["tip_id"]) == (1000, "KRW", tip.pk)
    with pytest.raises(DomainError):  # refused: no money moves, nobody is notified
        send_tip(sender=fan, amount=10**9, currency="KRW", message_id=message.pk)
    assert Notification.objects.filter(recipient=creator).count() == 1


def test_a_settled_payout_notifies_its_creator(settings, make_user, fund):
    from datetime import timedelta

    from django.core.management import call_command

    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 10_000)
    send_tip(sender=fan, amount=2000, currency="KRW", recipient_handle=creator.profile.handle)
    settings.COMMERCE_EARNINGS_HOLD = timedelta(seconds=0)
    call_command("commerce_jobs", only="mature")
    payout = request_payout(user=creator, amount=1500, currency="KRW")
    staff = make_user("staff")
    approve_payout(payout_id=payout.pk, reviewer=staff)
    assert not Notification.objects.filter(kind="payout").exists()
    settle_payout(payout_id=payout.pk, reviewer=staff)
    row = Notification.objects.get(kind="payout")
    assert (row.recipient_id, row.data["amount"]) == (creator.pk, 1500)
