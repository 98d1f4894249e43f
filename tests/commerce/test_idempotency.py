"""The idempotency mechanism's edges: stale in-flight keys, retention, failures."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from commerce.models import IdempotencyKey, Tip, Transfer
from commerce.reconciliation import check_ledger
from commerce.services.idempotency import purge_expired_keys, request_fingerprint, run_idempotent
from commerce.services.ledger import atomic_with_retry
from config.errors import DomainError
from tests.commerce.tipping import tip_through_api
from tests.support.accounts import client_for

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


def _savepoints(queries) -> list[str]:
    return [query["sql"] for query in queries if query["sql"].startswith("SAVEPOINT")]


@pytest.mark.django_db(transaction=True)  # the key's transaction, not a savepoint of the test's
def test_the_service_runs_in_the_operations_savepoint(make_user, fund):
    # Two savepoints for a tip through the API: the key's INSERT and the operation, which
    # send_tip runs in instead of opening a third (SAVEPOINT and RELEASE: two round trips).
    fan, creator = make_user("fan"), make_user("creator")
    fund(fan, 10_000)
    client = client_for(fan)
    with CaptureQueriesContext(connection) as queries:
        response = tip_through_api(client, creator, "tip-1", amount=1000)
    assert response.status_code == 201
    assert len(_savepoints(queries.captured_queries)) == 2
    # A refusal in that savepoint still leaves nothing behind, and is stored and replayed.
    tips = Tip.objects.count()
    with CaptureQueriesContext(connection) as queries:
        refused = tip_through_api(client, creator, "tip-2", amount=10**9)
    assert refused.status_code == 422
    assert len(_savepoints(queries.captured_queries)) == 2
    assert Tip.objects.count() == tips
    assert Transfer.objects.filter(kind=Transfer.Kind.TIP).count() == tips
    assert tip_through_api(client, creator, "tip-2", amount=10**9).status_code == 422
    assert check_ledger() == []


def test_the_operations_savepoint_is_taken_by_its_first_service_only(user):
    @atomic_with_retry
    def claim(key):
        IdempotencyKey.objects.create(
            user=user, key=key, scope="s", fingerprint="f", lock_token="t", locked_at=timezone.now()
        )
        if key.startswith("refused"):
            raise DomainError("refused")

    @atomic_with_retry
    def outer():
        claim("kept")  # a service it calls opens its own savepoint
        with pytest.raises(DomainError):
            claim("refused-inner")

    def operation():
        outer()  # takes the operation's savepoint
        with pytest.raises(DomainError):
            claim("refused-next")  # the operation's next service opens its own
        claim("second")
        return 201, {}

    assert run_idempotent(user_id=user.pk, key="op", scope="s", params={}, operation=operation)
    assert set(IdempotencyKey.objects.values_list("key", flat=True)) == {"op", "kept", "second"}
    # Outside an operation's savepoint, inside a transaction: a savepoint of its own.
    with transaction.atomic():
        with pytest.raises(DomainError):
            claim("refused-alone")
        claim("alone")
    assert IdempotencyKey.objects.filter(key__in=["alone", "refused-alone"]).count() == 1


def test_a_refused_service_rolls_back_everything_the_operation_did(user):
    @atomic_with_retry
    def refuse():
        raise DomainError("refused")

    def operation():
        IdempotencyKey.objects.create(
            user=user,
            key="side",
            scope="s",
            fingerprint="f",
            lock_token="t",
            locked_at=timezone.now(),
        )
        refuse()

    result = run_idempotent(user_id=user.pk, key="op", scope="s", params={}, operation=operation)
    assert result.status == 400
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["op"]
