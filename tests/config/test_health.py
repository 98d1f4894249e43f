import pytest
from django.test import override_settings

from config.celery import app as celery_app

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.mark.django_db
def test_health_reports_every_service_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["down"] == []
    assert set(body["checks"]) == {"database", "cache", "channel_layer", "broker"}
    assert all(check["ok"] for check in body["checks"].values())


@pytest.fixture
def dead_redis():
    dead = override_settings(
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": DEAD_REDIS,
            }
        },
        CHANNEL_LAYERS={
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [DEAD_REDIS]},
            }
        },
    )
    eager, broker = celery_app.conf.task_always_eager, celery_app.conf.broker_url
    celery_app.conf.task_always_eager, celery_app.conf.broker_url = False, DEAD_REDIS
    with dead:
        yield
    celery_app.conf.task_always_eager, celery_app.conf.broker_url = eager, broker


@pytest.mark.django_db
def test_dead_redis_gives_503_naming_what_is_down(client, dead_redis):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert set(body["down"]) == {"cache", "channel_layer", "broker"}
    assert body["checks"]["database"]["ok"] is True
    assert "Connection" in body["checks"]["cache"]["error"]
