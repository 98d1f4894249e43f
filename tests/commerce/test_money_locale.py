"""Money on the wallet page in the viewer's conventions, with the currency's exponent."""

import pytest

from tests.support.accounts import TEST_PASSWORD


@pytest.mark.parametrize(
    ("language", "usd", "jpy"),
    [("en", "$12.34", "¥500"), ("ko", "US$12.34", "JP¥500"), ("ja", "$12.34", "￥500")],
)
def test_wallet_shows_money_per_locale(client, make_user, fund, language, usd, jpy):
    user = make_user("payer", locale=language)
    fund(user, 1234, "USD")
    fund(user, 500, "JPY")
    client.login(username="payer", password=TEST_PASSWORD)
    page = client.get("/wallet/").content.decode()
    assert usd in page
    assert jpy in page
    assert "12.34 USD" not in page
