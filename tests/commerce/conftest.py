import pytest

from commerce.models import Account
from commerce.selectors import platform_fee_balances
from commerce.services import create_topup
from commerce.services.ledger import system_account, user_account
from community.notifications.services import user_group


@pytest.fixture
def fund():
    """Top up a user's wallet through the sandbox provider, as the API would."""

    def top_up(user, amount: int, currency: str = "KRW"):
        return create_topup(user=user, amount=amount, currency=currency)

    return top_up


def pending_earnings(user_id: int, currency: str = "KRW") -> int:
    """A creator's pending earnings: the sum of their shards (COMMERCE_EARNINGS_SHARDS)."""
    return sum(
        Account.objects.filter(
            user_id=user_id, kind=Account.Kind.EARNINGS_PENDING, currency=currency
        ).values_list("balance", flat=True)
    )


@pytest.fixture
def wallet_of():
    def balance(user, currency: str = "KRW", kind: str = Account.Kind.WALLET) -> int:
        if kind == Account.Kind.EARNINGS_PENDING:  # split over shards: their sum
            return pending_earnings(user.pk, currency)
        return user_account(user_id=user.pk, kind=kind, currency=currency).balance

    return balance


@pytest.fixture
def house_balance():
    def balance(kind: str, currency: str = "KRW") -> int:
        if kind == Account.Kind.PLATFORM_FEE:  # split over shards: their sum
            return platform_fee_balances().get(currency, 0)
        return system_account(kind=kind, currency=currency).balance

    return balance


@pytest.fixture
def me_events(layer_listener):
    """``me_events(user)``: from now on, the event types the user's ``/ws/me/`` sockets
    are sent; calling what it returns gives those sent so far (a marker sent last says
    where "so far" ends)."""

    def listen(user):
        group = user_group(user_id=user.pk)
        listener = layer_listener(group)

        def received() -> list[str]:
            marker = {"type": "test.marker", "event": {"type": "end"}}
            listener.group_send(group, marker)
            events = []
            while (event := listener.next_event()["type"]) != "end":
                events.append(event)
            return events

        return received

    return listen
