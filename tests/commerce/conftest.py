import pytest

from commerce.models import Account
from commerce.services import create_topup
from commerce.services.ledger import system_account, user_account


@pytest.fixture
def fund():
    """Top up a user's wallet through the sandbox provider, as the API would."""

    def top_up(user, amount: int, currency: str = "KRW"):
        return create_topup(user=user, amount=amount, currency=currency)

    return top_up


@pytest.fixture
def wallet_of():
    def balance(user, currency: str = "KRW", kind: str = Account.Kind.WALLET) -> int:
        return user_account(user_id=user.pk, kind=kind, currency=currency).balance

    return balance


@pytest.fixture
def house_balance():
    def balance(kind: str, currency: str = "KRW") -> int:
        return system_account(kind=kind, currency=currency).balance

    return balance
