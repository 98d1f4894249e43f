"""The layout's fixed links ({% layout_url %}, config/templatetags/layout.py) are
reversed once per process: they must still follow the script prefix the site is
served under and the URLconf in use."""

import pytest
from django.test import Client, override_settings
from django.urls import get_script_prefix, set_script_prefix

pytestmark = pytest.mark.django_db


def test_the_layout_links_follow_the_script_prefix(client_for, make_user):
    client = client_for(make_user(), session=True)
    plain = client.get("/discover/").content.decode()
    assert 'href="/discover/"' in plain and 'action="/i18n/setlang/"' in plain
    # Served under /moim/ (the ASGI and WSGI handlers set the prefix per request; the
    # test client does not): the same links with the prefix, then without it again.
    before = get_script_prefix()
    set_script_prefix("/moim/")
    try:
        prefixed = client.get("/discover/").content.decode()
    finally:
        set_script_prefix(before)
    assert 'href="/moim/discover/"' in prefixed and 'href="/discover/"' not in prefixed
    assert 'action="/moim/i18n/setlang/"' in prefixed
    assert 'href="/discover/"' in client.get("/discover/").content.decode()


@override_settings(ROOT_URLCONF="tests.config.layout_urls")
def test_the_layout_links_follow_the_urlconf():
    page = Client().get("/elsewhere/discover/").content.decode()
    assert 'href="/elsewhere/manifest.webmanifest"' in page
    assert 'href="/elsewhere/accounts/login/"' in page
    assert 'action="/elsewhere/i18n/setlang/"' in page
