"""Sandbox provider webhooks: signed, verified, applied once."""

import time

import pytest

from commerce.models import Account, TopUp, WebhookEvent
from commerce.providers.sandbox import SandboxProvider
from commerce.services.ledger import user_account
from commerce.services.topups import TopUp as TopUpModel

pytestmark = pytest.mark.django_db
URL = "/commerce/webhooks/sandbox/"


def send(client, body, headers):
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    return client.post(URL, body, content_type="application/json", **extra)


@pytest.fixture
def pending_topup(user):
    # A top-up the provider has not confirmed yet (as a real, asynchronous gateway).
    return TopUpModel.objects.create(
        user=user, amount=2500, currency="KRW", provider="sandbox", provider_reference="sbx_ref_1"
    )


def wallet_balance(user):
    return user_account(user_id=user.pk, kind=Account.Kind.WALLET, currency="KRW").balance


def test_signed_webhook_credits_once_even_when_redelivered(client, user, pending_topup):
    body, headers = SandboxProvider().build_webhook(
        event_type="payment.succeeded", reference="sbx_ref_1", event_id="evt_1"
    )
    first = send(client, body, headers)
    again = send(client, body, headers)
    assert first.json() == {"outcome": "applied"}
    assert again.json() == {"outcome": "duplicate"}
    # A different event for the same payment does not credit twice either.
    other, other_headers = SandboxProvider().build_webhook(
        event_type="payment.succeeded", reference="sbx_ref_1", event_id="evt_2"
    )
    assert send(client, other, other_headers).status_code == 200
    assert wallet_balance(user) == 2500
    pending_topup.refresh_from_db()
    assert pending_topup.status == TopUp.Status.SUCCEEDED


@pytest.mark.parametrize(
    "tamper",
    ["wrong_secret", "edited_body", "no_header", "stale", "garbage_header"],
)
def test_bad_signatures_are_refused(client, user, pending_topup, tamper):
    provider = SandboxProvider(secret="not-the-secret" if tamper == "wrong_secret" else None)
    at = int(time.time()) - 3600 if tamper == "stale" else None
    body, headers = provider.build_webhook(
        event_type="payment.succeeded", reference="sbx_ref_1", at=at
    )
    if tamper == "edited_body":
        body = body.replace(b"sbx_ref_1", b"sbx_ref_2")
    if tamper == "no_header":
        headers = {}
    if tamper == "garbage_header":
        headers = {"Moim-Signature": "t=abc,v1=zz"}
    response = send(client, body, headers)
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()
    assert wallet_balance(user) == 0


def test_failed_payment_event_marks_the_topup_failed(client, user, pending_topup):
    body, headers = SandboxProvider().build_webhook(
        event_type="payment.failed", reference="sbx_ref_1"
    )
    assert send(client, body, headers).status_code == 200
    pending_topup.refresh_from_db()
    assert pending_topup.status == TopUp.Status.FAILED
    assert wallet_balance(user) == 0


def test_webhook_for_an_unknown_provider_is_refused(client):
    response = client.post("/commerce/webhooks/nope/", b"{}", content_type="application/json")
    assert response.status_code == 400


def test_webhook_for_an_unknown_payment_is_recorded_and_ignored(client):
    body, headers = SandboxProvider().build_webhook(
        event_type="payment.succeeded", reference="unknown"
    )
    assert send(client, body, headers).json() == {"outcome": "ignored"}
