"""Tips as a mobile app sends them, for the commerce tests."""

TIPS = "/api/v1/tips/"


def tip_through_api(client, creator, key: str, amount: int = 1000):
    """``POST /api/v1/tips/`` to ``creator`` in KRW with the ``Idempotency-Key`` ``key``."""
    return client.post(
        TIPS,
        {"user": creator.profile.handle, "amount": amount, "currency": "KRW"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )
