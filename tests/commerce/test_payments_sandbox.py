"""The sandbox provider (instant success, no money taken) is refused unless
``PAYMENTS_SANDBOX`` is on (default: DEBUG); ``check --deploy`` reports it; top-ups have
a per-currency maximum."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from commerce.models import TopUp, Transfer
from commerce.providers.sandbox import SandboxProvider
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db

TOPUPS = "/api/v1/wallet/topups/"
ROOT = Path(__file__).resolve().parents[2]


def topup(client, amount, currency="USD", key="k"):
    return client.post(
        TOPUPS,
        {"amount": amount, "currency": currency},
        format="json",
        headers={"Idempotency-Key": key},
    )


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.PAYMENTS_SANDBOX = False


def test_api_topup_is_refused_when_payments_are_not_configured(production, auth_client):
    response = topup(auth_client, 1_000_000_000_000)
    assert response.status_code == 400  # too large comes first: bad input
    response = topup(auth_client, 1000, key="k2")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "payments_not_configured"
    assert "not configured" in response.json()["error"]["message"]
    assert not TopUp.objects.exists() and not Transfer.objects.exists()


def test_web_topup_is_refused_when_payments_are_not_configured(production, user):
    web = client_for(user, session=True)
    page = web.post("/wallet/topup/", {"amount": 1000, "currency": "USD", "idempotency_key": "w1"})
    assert page.status_code == 200
    assert b"Payments are not configured" in page.content
    assert not Transfer.objects.exists()
    # The page says so up front instead of offering a form that cannot work.
    shown = web.get("/wallet/topup/")
    assert b'id="payments-unavailable"' in shown.content
    assert b"idempotency_key" not in shown.content


def test_sandbox_webhooks_are_refused_too(production, client, user):
    TopUp.objects.create(
        user=user, amount=2500, currency="KRW", provider="sandbox", provider_reference="sbx_1"
    )
    body, headers = SandboxProvider().build_webhook(
        event_type="payment.succeeded", reference="sbx_1"
    )
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    response = client.post(
        "/commerce/webhooks/sandbox/", body, content_type="application/json", **extra
    )
    assert response.status_code == 422
    assert not Transfer.objects.exists()


def test_an_explicitly_enabled_sandbox_works_without_debug(settings, auth_client):
    settings.DEBUG, settings.PAYMENTS_SANDBOX = False, True
    assert topup(auth_client, 1000).status_code == 201


@pytest.mark.parametrize(
    ("amount", "currency", "status"),
    [
        (100_000_000_000_000, "USD", 400),  # 1,000,000,000,000 USD: the attack
        (1_000_000_000_000, "USD", 400),
        (1_000_001, "USD", 400),
        (1_000_000, "USD", 201),  # 10,000 USD
        (10_000_001, "KRW", 400),
        (10_000_000, "KRW", 201),
    ],
)
def test_a_topup_has_a_per_currency_maximum(auth_client, amount, currency, status):
    response = topup(auth_client, amount, currency)
    assert response.status_code == status, response.content
    if status == 400:
        assert response.json()["error"]["fields"]["amount"]
        assert not Transfer.objects.exists()


def test_the_maximum_comes_from_settings(settings, auth_client):
    settings.COMMERCE_MAX_TOPUP = {"USD": 500}
    assert topup(auth_client, 501).json()["error"]["code"] == "topup_too_large"
    assert topup(auth_client, 500, key="k2").status_code == 201
    # A currency not listed: 10,000 major units.
    assert topup(auth_client, 1_000_001, "EUR", key="k3").status_code == 400
    assert topup(auth_client, 1_000_000, "EUR", key="k4").status_code == 201


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "PAYMENTS_SANDBOX")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "SECRET_KEY": "x" * 60, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _settings_value(name: str, **env: str) -> str:
    code = f"from django.conf import settings; print(settings.{name})"
    result = _manage("shell", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_the_sandbox_is_off_by_default_in_production():
    assert _settings_value("PAYMENTS_SANDBOX", DEBUG="0") == "False"


@pytest.mark.slow
def test_check_deploy_reports_the_sandbox_in_production():
    enabled = _manage("check", "--deploy", DEBUG="0", PAYMENTS_SANDBOX="1")
    assert "commerce.W001" in enabled.stderr + enabled.stdout
    assert "credits every top-up without taking any money" in enabled.stderr + enabled.stdout
    disabled = _manage("check", "--deploy", DEBUG="0")
    assert "commerce.W001" not in disabled.stderr + disabled.stdout
