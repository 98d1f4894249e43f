"""The idempotency mechanism's edges: stale in-flight keys, retention, failures."""

from datetime import timedelta

import pytest
from django.utils import timezone

from commerce.models import IdempotencyKey, Transfer
from commerce.services.idempotency import purge_expired_keys, request_fingerprint, run_idempotent
from config.errors import DomainError

pytestmark = pytest.mark.django_db


def test_a_stale_in_flight_key_is_taken_over(auth_client, user):
    params = {"amount": 300, "currency": "KRW"}
    # A request claimed the key and died; its transaction rolled back long ago.
    IdempotencyKey.objects.create(
        user=user,
        key="orphan",
        scope="topup",
        fingerprint=request_fingerprint(scope="topup", params=params),
        lock_token="dead-process",
        locked_at=timezone.now() - timedelta(minutes=10),
    )
    response = auth_client.post(
        "/api/v1/wallet/topups/", params, format="json", HTTP_IDEMPOTENCY_KEY="orphan"
    )
    assert response.status_code == 201
    assert Transfer.objects.filter(kind=Transfer.Kind.TOPUP).count() == 1


def test_keys_are_kept_at_least_a_day(settings, auth_client, user):
    settings.COMMERCE_IDEMPOTENCY_KEY_TTL = timedelta(hours=1)  # raised to the 24 h floor
    for key in ("fresh", "old"):
        auth_client.post(
            "/api/v1/wallet/topups/",
            {"amount": 10, "currency": "KRW"},
            format="json",
            HTTP_IDEMPOTENCY_KEY=key,
        )
    IdempotencyKey.objects.filter(key="fresh").update(
        created_at=timezone.now() - timedelta(hours=23)
    )
    IdempotencyKey.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))
    assert purge_expired_keys() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]


def test_an_unexpected_error_releases_the_key(user):
    def explode():
        raise RuntimeError("provider timed out")

    with pytest.raises(RuntimeError):
        run_idempotent(user_id=user.pk, key="k", scope="s", params={}, operation=explode)
    assert not IdempotencyKey.objects.exists()
    result = run_idempotent(
        user_id=user.pk, key="k", scope="s", params={}, operation=lambda: (201, {"ok": 1})
    )
    assert (result.status, result.body, result.replayed) == (201, {"ok": 1}, False)


def test_overlong_keys_are_refused(user):
    with pytest.raises(DomainError):
        run_idempotent(
            user_id=user.pk, key="x" * 256, scope="s", params={}, operation=lambda: (201, {})
        )
