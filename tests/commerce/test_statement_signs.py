"""Refund lines carry the refunded fee with the refund's sign: net == gross - fee on every
line of the web statement, its CSV export, the API statement and the data export."""

import csv
import io

import pytest
from django.db import transaction
from django.test import Client

from commerce.models import Leg, Transfer
from commerce.privacy import export_ledger
from commerce.services import send_tip
from commerce.services.ledger import LegSpec, write_transfer
from tests.commerce.conftest import pending_earnings
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def refunded_tip(make_user, fund):
    """A fan tips a creator 1000 KRW on the web; the creator refunds it on the web."""
    fan, creator = make_user(), make_user()
    fund(fan, 5000)
    fan_web, creator_web = Client(), Client()
    fan_web.force_login(fan)
    creator_web.force_login(creator)
    fan_web.post(
        "/wallet/tip/",
        {
            "user": creator.profile.handle,
            "amount": 1000,
            "currency": "KRW",
            "idempotency_key": "t",
            "confirmed": "1",
        },
    )
    tip = Transfer.objects.get(kind=Transfer.Kind.TIP)
    creator_web.post(f"/wallet/refund/{tip.pk}/")
    assert Transfer.objects.filter(reverses=tip).exists()
    return creator, creator_web


def csv_rows(client) -> list[dict]:
    response = client.get("/wallet/statement.csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_csv_refund_line_nets_gross_minus_fee(refunded_tip):
    _creator, web = refunded_tip
    rows = csv_rows(web)
    assert [(r["kind"], r["gross"], r["fee"], r["net"]) for r in rows] == [
        ("tip", "1000", "100", "900"),
        ("reversal", "-1000", "-100", "-900"),
    ]
    for row in rows:
        assert int(row["net"]) == int(row["gross"]) - int(row["fee"])


def test_api_statement_lines_net_gross_minus_fee(refunded_tip):
    creator, _web = refunded_tip
    body = client_for(creator).get("/api/v1/wallet/transactions/").json()
    lines = body["results"] if isinstance(body, dict) else body
    assert [(line["kind"], line["gross"], line["fee"], line["net"]) for line in lines] == [
        ("reversal", -1000, -100, -900),
        ("tip", 1000, 100, 900),
    ]


def test_web_statement_shows_the_refunded_fee_as_negative(refunded_tip):
    _creator, web = refunded_tip
    page = web.get("/wallet/statement/")
    lines = page.context["lines"]
    assert [(line.gross, line.statement_fee, line.amount) for line in lines] == [
        (-1000, -100, -900),
        (1000, 100, 900),
    ]
    assert "-₩100" in page.content.decode() or "₩-100" in page.content.decode()


def test_the_fee_is_mirrored_in_the_ledger_too(refunded_tip):
    reversal = Transfer.objects.get(kind=Transfer.Kind.REVERSAL)
    for leg in reversal.legs.all():
        assert leg.amount == leg.gross - leg.fee


def test_reversals_written_before_the_fix_are_shown_right(make_user, fund):
    """Stored reversal legs keep their old positive fee (append-only); lines still net."""
    fan, creator = make_user(), make_user()
    fund(fan, 5000)
    tip, _ = send_tip(
        sender=fan, amount=1000, currency="KRW", recipient_handle=creator.profile.handle
    )
    with transaction.atomic():  # the old mirror: amount and gross negated, fee kept
        write_transfer(
            kind=Transfer.Kind.REVERSAL,
            legs=[
                LegSpec(account=leg.account, amount=-leg.amount, gross=-leg.gross, fee=leg.fee)
                for leg in tip.transfer.legs.select_related("account")
            ],
            reverses=tip.transfer,
        )
    assert Leg.objects.filter(transfer__kind="reversal", fee=100, gross=-1000).exists()
    web = client_for(creator, session=True)
    row = csv_rows(web)[-1]
    assert (row["gross"], row["fee"], row["net"]) == ("-1000", "-100", "-900")
    exported = export_ledger(creator)["statement"][-1]
    assert exported["net"] == exported["gross"] - exported["fee"] == -900
    assert pending_earnings(creator.pk) == 0
