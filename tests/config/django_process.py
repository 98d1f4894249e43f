"""Django in a fresh process: the settings as a deploy reads them from its environment.

``run_django`` starts ``python`` with ``config.settings`` and none of Moim's variables
from the test run (each test passes the ones it is about)."""

import os
import subprocess
import sys
from pathlib import Path

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
    # Set per pytest-xdist worker (tests/support/parallel.py).
    "CHANNEL_LAYER_PREFIX",
}


def run_django(code_or_args, **env_vars) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in MOIM_VARIABLES}
    env.update(env_vars)
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    args = code_or_args if isinstance(code_or_args, list) else ["-c", code_or_args]
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
