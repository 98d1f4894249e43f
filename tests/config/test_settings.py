"""Settings under the embedded default and the production stack, read in a fresh process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, django
from django.conf import settings
django.setup()
from config.celery import app
print(json.dumps({
    "db": settings.DATABASES["default"]["ENGINE"],
    "layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "layer_config": settings.CHANNEL_LAYERS["default"].get("CONFIG", {}),
    "cache": settings.CACHES["default"]["BACKEND"],
    "cache_options": settings.CACHES["default"].get("OPTIONS", {}),
    "broker_options": app.conf.broker_transport_options,
    "eager": app.conf.task_always_eager,
    "broker": app.conf.broker_url,
    "storage": settings.STORAGES["default"]["BACKEND"],
    "debug": settings.DEBUG,
    "hasher": settings.PASSWORD_HASHERS[0],
    "user_model": settings.AUTH_USER_MODEL,
}))
"""

MOIM_VARIABLES = {
    "DATABASE_URL",
    "REDIS_URL",
    "DEBUG",
    "SECRET_KEY",
    "AWS_STORAGE_BUCKET_NAME",
    "CELERY_BROKER_URL",
    "CELERY_TASK_ALWAYS_EAGER",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "ALLOWED_HOSTS",
    "STATICFILES_BACKEND",
    "SITE_URL",
    "MEDIA_ROOT",
    "MEDIA_PRIVATE_ROOT",
    "PAYMENTS_SANDBOX",
}


def run_django(code_or_args, **env_vars) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in MOIM_VARIABLES}
    env.update(env_vars)
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    args = code_or_args if isinstance(code_or_args, list) else ["-c", code_or_args]
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


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
    # channels-redis's core layer, with a receive block shorter than the socket timeout.
    assert config["layer"] == "config.channel_layer.RedisChannelLayer"
    assert config["layer_config"]["hosts"][0]["socket_timeout"] > 0
    assert config["layer_config"]["hosts"][0]["socket_connect_timeout"] > 0
    assert (
        config["layer_config"]["receive_block_seconds"]
        < config["layer_config"]["hosts"][0]["socket_timeout"]
    )
    # The default capacity of 100 drops group messages under a burst.
    assert config["layer_config"]["capacity"] >= 1000
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
