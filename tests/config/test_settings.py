"""Settings under the embedded default and the production stack, read in a fresh process."""

import json

import pytest

from tests.config.django_process import PROBE, run_django


def probe(**env_vars) -> dict:
    result = run_django(PROBE, **env_vars)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_embedded_default_needs_nothing_installed():
    config = probe(DEBUG="1")
    assert config["db"] == "django_prometheus.db.backends.sqlite3"  # metered
    assert config["layer"] == "channels.layers.InMemoryChannelLayer"
    assert config["cache"] == "config.metrics.MeteredLocMemCache"
    assert config["eager"] is True
    assert config["broker"].startswith("memory://")
    assert config["storage"] == "django.core.files.storage.FileSystemStorage"
    assert config["hasher"] == "config.passwords.Argon2PasswordHasher"
    assert config["user_model"] == "profiles.User"


def test_environment_switches_to_production_stack():
    config = probe(
        SECRET_KEY="x" * 60,
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/moim",
        REDIS_URL="redis://127.0.0.1:6379/0",
        AWS_STORAGE_BUCKET_NAME="moim-media",
    )
    assert config["debug"] is False
    assert config["db"] == "config.postgresql"  # checked pool checkouts, metered
    # channels-redis's pub/sub layer (docs/performance.md, Fanout), with timeouts.
    assert config["layer"] == "config.channel_layer.RedisPubSubChannelLayer"
    assert config["layer_config"]["hosts"][0]["socket_timeout"] > 0
    assert config["layer_config"]["hosts"][0]["socket_connect_timeout"] > 0
    assert config["cache"] == "config.metrics.MeteredRedisCache"
    # No Redis client may hang on a frozen server.
    for options in (config["cache_options"], config["broker_options"]):
        assert options["socket_timeout"] > 0
        assert options["socket_connect_timeout"] > 0
    assert config["eager"] is False
    assert config["broker"] == "redis://127.0.0.1:6379/0"
    assert config["storage"] == "storages.backends.s3.S3Storage"


def test_debug_off_requires_a_secret_key():
    result = run_django(PROBE)
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_check_deploy_is_clean_with_production_variables():
    result = run_django(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        SECRET_KEY="k" * 20 + "production-like-secret-0123456789-ABCDEFG",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/moim",
        REDIS_URL="redis://127.0.0.1:6379/0",
        ALLOWED_HOSTS="moim.example",
        SITE_URL="https://moim.example",
        MEDIA_ROOT="/srv/moim/media",
        MEDIA_PRIVATE_ROOT="/srv/moim/media-private",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_argon2_hashes_new_passwords(settings, make_user):
    from config import settings as moim_settings

    settings.PASSWORD_HASHERS = moim_settings.PASSWORD_HASHERS
    user = make_user("argonaut")
    assert user.password.startswith("argon2")


PRODUCTION = {
    "SECRET_KEY": "x" * 60,
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/moim",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "AWS_STORAGE_BUCKET_NAME": "moim-media",
}


@pytest.mark.parametrize(
    ("backend", "layer"),
    [
        ("core", "config.channel_layer.RedisChannelLayer"),
        ("pubsub", "config.channel_layer.RedisPubSubChannelLayer"),
    ],
)
def test_channel_layer_backend_chooses_the_layer_with_the_same_timeouts_prefix_and_shards(
    backend, layer
):
    config = probe(
        **PRODUCTION,
        CHANNEL_LAYER_BACKEND=backend,
        CHANNEL_LAYER_PREFIX="moim-blue",
        CHANNEL_LAYER_REDIS_URLS="redis://10.0.0.1:6379/0,redis://10.0.0.2:6379/0",
        REDIS_SOCKET_TIMEOUT="4",
        REDIS_CONNECT_TIMEOUT="1.5",
    )
    assert config["layer"] == layer
    layer_config = config["layer_config"]
    assert layer_config["prefix"] == "moim-blue"
    assert [host["address"] for host in layer_config["hosts"]] == [
        "redis://10.0.0.1:6379/0",
        "redis://10.0.0.2:6379/0",
    ]
    for host in layer_config["hosts"]:
        assert (host["socket_timeout"], host["socket_connect_timeout"]) == (4.0, 1.5)
    if backend == "pubsub":
        # A silent subscription is pinged well within the socket timeout's reach.
        assert 0 < layer_config["keepalive_seconds"] <= 10
    else:
        # A receive block shorter than the socket timeout, and a capacity well above
        # the library's 100, which drops group messages under a burst.
        assert layer_config["receive_block_seconds"] < 4.0
        assert layer_config["capacity"] >= 1000


def test_an_unknown_channel_layer_backend_stops_the_start():
    result = run_django(PROBE, **PRODUCTION, CHANNEL_LAYER_BACKEND="kafka")
    assert result.returncode != 0
    assert "CHANNEL_LAYER_BACKEND must be one of core, pubsub, not 'kafka'" in result.stderr
