"""A strict Content-Security-Policy on every page (django-csp): scripts only from this
origin, no inline script or style, no framing, no plugins."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.BASE_DIR) / "templates"


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in header.split(";") if part.strip())
    }


@pytest.fixture
def web(client, user):
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/rooms/",
        "/friends/",
        "/u/alice/",
        "/settings/profile/",
        "/settings/preferences/",
        "/settings/account/",
        "/accounts/password/",
        "/notifications/",
        "/no-such-page/",
    ],
)
def test_every_page_carries_the_strict_policy(web, path):
    response = web.get(path)
    assert response.status_code in (200, 404)
    policy = _policy(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    assert "data:" in policy["img-src"]
    assert "'self'" in policy["connect-src"]


@pytest.mark.parametrize(
    "path",
    [
        "/rooms/?q=%00",
        "/accounts/login/",
        "/accounts/signup/",
        "/admin/login/",
        "/healthz",
        "/api/v1/rooms/",
    ],
)
def test_signed_out_pages_and_the_api_carry_it_too(path):
    response = Client().get(path)
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_swagger_ui_works_without_inline_script():
    page = Client().get("/api/docs/")
    assert page.status_code == 200
    policy = _policy(page)
    assert policy["script-src"] == ["'self'"]
    html = page.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    init = Client().get("/api/docs/?script=")
    assert init.status_code == 200
    assert "SwaggerUIBundle" in init.content.decode()


def test_templates_have_no_inline_script_or_style_attribute():
    offenders = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text):
            offenders.append(f"{template.name}: inline <script>")
        if re.search(r"\sstyle=", text) or "<style" in text:
            offenders.append(f"{template.name}: inline style")
        if re.search(r"\son[a-z]+=", text):
            offenders.append(f"{template.name}: inline event handler")
    assert offenders == []


def test_media_storage_origin_is_allowed_for_images(settings):
    from importlib import reload

    import config.settings as moim_settings

    # Derived from the S3 endpoint when media live on S3-compatible storage.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_STORAGE_BUCKET_NAME", "moim-media")
        patch.setenv("AWS_S3_ENDPOINT_URL", "https://s3.example.net:9000/")
        reloaded = reload(moim_settings)
        directives = reloaded.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    reload(moim_settings)
    assert "https://s3.example.net:9000" in directives["img-src"]
    assert "https://s3.example.net:9000" in directives["media-src"]
