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


@pytest.mark.django_db
def test_strangers_see_only_the_status(dead_redis):
    from django.test import Client

    stranger = Client(REMOTE_ADDR="203.0.113.9")
    response = stranger.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}
    # A forged X-Forwarded-For does not make a stranger local.
    forged = stranger.get("/healthz", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert forged.json() == {"status": "unavailable"}


@pytest.mark.django_db
def test_strangers_see_ok_when_all_is_up():
    from django.test import Client

    response = Client(REMOTE_ADDR="203.0.113.9").get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_staff_see_the_details_from_anywhere(dead_redis, make_user):
    from django.contrib.auth import get_user_model
    from django.test import Client

    staff = make_user("ops")
    get_user_model().objects.filter(pk=staff.pk).update(is_staff=True)
    client = Client(REMOTE_ADDR="203.0.113.9")
    client.force_login(staff)
    body = client.get("/healthz").json()
    assert set(body["down"]) == {"cache", "channel_layer", "broker"}


@pytest.mark.django_db
def test_behind_a_proxy_loopback_is_the_forwarded_client(settings):
    from django.test import Client

    settings.NUM_PROXIES = 1
    # The proxy runs on this machine; the client it forwards is not local.
    proxied = Client(REMOTE_ADDR="127.0.0.1").get("/healthz", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert proxied.json() == {"status": "ok"}
