"""``manage.py check --deploy`` enforces Moim's own production rules (config/checks.py),
and production refuses to start without a private media directory."""

from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from tests.config.django_process import PROBE, ROOT, run_django

REDIS_LAYER = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {}}}


@pytest.fixture
def production(settings, tmp_path):
    """Settings an operator would run with; each test breaks one rule."""
    settings.DEBUG = False
    settings.SITE_URL = "https://moim.example"
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    settings.PAYMENTS_SANDBOX = False
    settings.CHANNEL_LAYERS = REDIS_LAYER
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "media": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media-private"), "base_url": None},
        },
    }
    return settings


def deploy_check_errors() -> str:
    """The text of the errors ``check --deploy`` fails with ("" when it passes)."""
    try:
        call_command("check", "--deploy", "--fail-level", "ERROR", stdout=_Null(), stderr=_Null())
    except SystemCheckError as error:
        return str(error)
    return ""


class _Null:
    def write(self, *args):
        pass

    def flush(self):
        pass


def set_private_root(settings, location: Path | str) -> None:
    media = settings.STORAGES["media"]
    settings.STORAGES = {
        **settings.STORAGES,
        "media": {**media, "OPTIONS": {**media["OPTIONS"], "location": str(location)}},
    }


def test_production_settings_pass(production):
    assert "moim." not in deploy_check_errors()


def test_private_media_inside_the_code_checkout_fails(production):
    set_private_root(production, ROOT / "media-private")
    errors = deploy_check_errors()
    assert "moim.E001" in errors
    assert "lost on the next deploy" in errors


@pytest.mark.parametrize("inside", [True, False])
def test_private_media_overlapping_the_public_media_root_fails(production, inside):
    public = Path(production.MEDIA_ROOT)
    if inside:
        set_private_root(production, public / "private")
    else:  # the public root inside the private one publishes part of it just the same
        set_private_root(production, public.parent)
    assert "moim.E002" in deploy_check_errors()


def test_media_on_s3_has_no_private_root_to_check(production):
    production.STORAGES = {
        **production.STORAGES,
        "media": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {"location": "media"}},
    }
    production.MEDIA_ROOT = ROOT / "media"
    assert "moim.E00" not in deploy_check_errors()


@pytest.mark.parametrize(
    "site_url", ["http://127.0.0.1:8000", "http://moim.example", "https://", "moim.example"]
)
def test_site_url_must_be_public_https(production, site_url):
    production.SITE_URL = site_url
    assert "moim.E003" in deploy_check_errors()


@pytest.mark.parametrize("cookie", ["SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"])
def test_insecure_cookies_fail(production, cookie):
    setattr(production, cookie, False)
    errors = deploy_check_errors()
    assert "moim.E004" in errors
    assert cookie in errors


def test_in_memory_channel_layer_and_eager_tasks_fail(production):
    production.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    production.CELERY_TASK_ALWAYS_EAGER = True
    errors = deploy_check_errors()
    assert "moim.E006" in errors
    assert "moim.E007" in errors


def test_the_checks_only_run_with_deploy(production):
    production.PAYMENTS_SANDBOX = True
    call_command("check", "--fail-level", "ERROR", stdout=_Null(), stderr=_Null())


# --- Start-up: no silent default for the private media directory in production -------


def test_production_refuses_to_start_without_a_private_media_root():
    result = run_django(PROBE, SECRET_KEY="s" * 60, MEDIA_ROOT="/srv/moim/media")
    assert result.returncode != 0
    assert "MEDIA_PRIVATE_ROOT is required" in result.stderr


def test_production_with_media_on_s3_needs_no_private_root():
    result = run_django(PROBE, SECRET_KEY="s" * 60, AWS_STORAGE_BUCKET_NAME="moim-media")
    assert result.returncode == 0, result.stderr


def test_production_keeps_the_private_root_it_is_given():
    code = "import django; django.setup(); from django.conf import settings; "
    code += "print(settings.STORAGES['media']['OPTIONS']['location'])"
    result = run_django(code, SECRET_KEY="s" * 60, MEDIA_PRIVATE_ROOT="/srv/moim/private")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "/srv/moim/private"


def test_development_defaults_to_a_folder_in_the_checkout():
    code = "import django; django.setup(); from django.conf import settings; "
    code += "print(settings.STORAGES['media']['OPTIONS']['location'])"
    result = run_django(code, DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(ROOT / "media-private")
