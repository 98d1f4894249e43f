"""Earnings maturing after the hold; payouts approved, rejected, settled, expired."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from commerce.models import Account, Leg, PayoutRequest, Transfer
from commerce.reconciliation import check_ledger
from commerce.services import refund_transfer, request_payout, send_tip
from commerce.services.ledger import user_account
from config.errors import ConflictError, NotFoundError
from tests.commerce.conftest import pending_earnings

pytestmark = pytest.mark.django_db


def balance(user, kind):
    if kind == Account.Kind.EARNINGS_PENDING:
        return pending_earnings(user.pk)
    return user_account(user_id=user.pk, kind=kind, currency="KRW").balance


@pytest.fixture
def tipped_creator(make_user, fund):
    fan, creator = make_user(), make_user()
    fund(fan, 10_000)
    tip, _ = send_tip(
        sender=fan, amount=2000, currency="KRW", recipient_handle=creator.profile.handle
    )
    return creator, fan, tip


def test_earnings_mature_after_the_hold(settings, tipped_creator):
    creator, _fan, _tip = tipped_creator
    call_command("commerce_jobs", only="mature")
    assert balance(creator, Account.Kind.EARNINGS_PENDING) == 1800  # still in the hold
    assert balance(creator, Account.Kind.EARNINGS_AVAILABLE) == 0
    settings.COMMERCE_EARNINGS_HOLD = timedelta(seconds=0)
    call_command("commerce_jobs", only="mature")
    assert balance(creator, Account.Kind.EARNINGS_PENDING) == 0
    assert balance(creator, Account.Kind.EARNINGS_AVAILABLE) == 1800
    call_command("commerce_jobs", only="mature")  # idempotent
    assert balance(creator, Account.Kind.EARNINGS_AVAILABLE) == 1800
    assert check_ledger() == []


def test_creator_refunds_a_pending_tip_as_a_reversal(tipped_creator, make_user):
    creator, fan, tip = tipped_creator
    with pytest.raises(NotFoundError):  # someone else's tip is not confirmed to exist
        refund_transfer(actor=make_user(), transfer_id=tip.transfer_id)
    reversal = refund_transfer(actor=creator, transfer_id=tip.transfer_id)
    assert reversal.reverses_id == tip.transfer_id
    assert balance(fan, Account.Kind.WALLET) == 10_000
    assert balance(creator, Account.Kind.EARNINGS_PENDING) == 0
    assert Leg.objects.filter(transfer=tip.transfer_id).count() == 3  # original untouched
    with pytest.raises(ConflictError):
        refund_transfer(actor=creator, transfer_id=tip.transfer_id)
    assert check_ledger() == []


@pytest.fixture
def payout(settings, tipped_creator):
    creator, _fan, _tip = tipped_creator
    settings.COMMERCE_EARNINGS_HOLD = timedelta(seconds=0)
    call_command("commerce_jobs", only="mature")
    return request_payout(user=creator, amount=1500, currency="KRW")


def _admin_action(admin_client, action, payout):
    return admin_client.post(
        "/admin/commerce/payoutrequest/",
        {"action": action, "_selected_action": [payout.pk]},
        follow=True,
    )


def test_staff_approve_then_settle_a_payout(admin_client, payout):
    creator = payout.user
    assert balance(creator, Account.Kind.EARNINGS_AVAILABLE) == 1800
    _admin_action(admin_client, "approve", payout)
    payout.refresh_from_db()
    assert payout.status == PayoutRequest.Status.APPROVED
    assert balance(creator, Account.Kind.EARNINGS_AVAILABLE) == 300
    page = _admin_action(admin_client, "approve", payout)  # twice: posts once
    assert b"This payout is Approved" in page.content
    _admin_action(admin_client, "settle", payout)
    payout.refresh_from_db()
    assert payout.status == PayoutRequest.Status.SETTLED
    clearing = Account.objects.get(kind=Account.Kind.PAYOUT_CLEARING, currency="KRW")
    assert (clearing.balance, clearing.pending_credits) == (0, 0)
    assert Transfer.objects.filter(resolves=payout.hold_id).count() == 1
    assert check_ledger() == []


def test_staff_reject_a_payout_releases_the_hold(admin_client, payout):
    _admin_action(admin_client, "reject", payout)
    payout.refresh_from_db()
    assert payout.status == PayoutRequest.Status.REJECTED
    available = user_account(
        user_id=payout.user_id, kind=Account.Kind.EARNINGS_AVAILABLE, currency="KRW"
    )
    assert (available.balance, available.pending_debits) == (1800, 0)
    assert check_ledger() == []


def test_an_unreviewed_payout_hold_expires(settings, payout):
    settings.COMMERCE_PAYOUT_HOLD_EXPIRY = timedelta(seconds=0)
    expired = request_payout(user=payout.user, amount=100, currency="KRW")
    assert expired.hold.expires_at <= timezone.now()
    call_command("commerce_jobs", only="expire")
    expired.refresh_from_db()
    payout.refresh_from_db()
    assert expired.status == PayoutRequest.Status.EXPIRED
    assert payout.status == PayoutRequest.Status.REQUESTED
    assert check_ledger() == []


def test_payout_admin_changelist_query_count(admin_client, payout, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        assert admin_client.get("/admin/commerce/payoutrequest/").status_code == 200
