"""Account recovery: password reset by email, email verification, the recovery banner,
and their API equivalents. An answer never tells whether an address is registered."""

import re

import pytest
from django.core import mail
from django.test import Client

from profiles.models import User
from tests.conftest import TEST_PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_tasks")]

NEW_PASSWORD = "a-brand-new-passphrase-42"
LINK = re.compile(r"https?://[^\s]+")


@pytest.fixture
def mina(make_user):
    user = make_user("mina", email="mina@example.com", locale="en")
    mail.outbox.clear()
    return user


def path_of(link: str) -> str:
    return "/" + link.split("://", 1)[1].split("/", 1)[1] if "://" in link else link


def the_link(message) -> str:
    return path_of(LINK.findall(message.body)[0])


# --- Password reset on the web -------------------------------------------------------------


def test_login_page_links_to_password_reset(client):
    page = client.get("/accounts/login/").content.decode()
    assert 'href="/accounts/password/reset/"' in page


def test_password_reset_by_email_end_to_end(client, mina):
    signed_in_elsewhere = Client()
    signed_in_elsewhere.force_login(mina)
    response = client.post("/accounts/password/reset/", {"email": "MINA@example.com"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/sent/"
    (message,) = mail.outbox
    assert message.to == ["mina@example.com"]
    assert "mina" in message.body
    link = the_link(message)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200 and form_page.context["validlink"]
    set_password_url = form_page.redirect_chain[-1][0]
    done = client.post(
        set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert done.status_code == 302
    assert done["Location"] == "/accounts/password/reset/complete/"
    mina.refresh_from_db()
    assert mina.check_password(NEW_PASSWORD)
    assert mina.email_verified  # the link proved the mailbox
    # Every other session ended; the link works once.
    assert signed_in_elsewhere.get("/wallet/").status_code == 302
    again = client.get(link, follow=True)
    assert not again.context["validlink"]
    assert Client().login(username="mina", password=NEW_PASSWORD)
    assert not Client().login(username="mina", password=TEST_PASSWORD)


def test_reset_answers_the_same_for_an_unknown_address(client, mina):
    known = client.post("/accounts/password/reset/", {"email": "mina@example.com"})
    unknown = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert len(mail.outbox) == 1  # only the registered address got an email
    sent_page = client.get(known["Location"]).content.decode()
    assert "If an account uses that address" in sent_page


def test_reset_sends_are_rate_limited_for_any_address(client, mina, settings):
    settings.ACCOUNT_EMAILS_PER_ADDRESS = 2
    for address in ("mina@example.com", "nobody@example.com"):
        for _ in range(2):
            assert client.post("/accounts/password/reset/", {"email": address}).status_code == 302
        limited = client.post("/accounts/password/reset/", {"email": address})
        assert limited.status_code == 429
        assert "Too many emails were requested" in limited.content.decode()
        assert int(limited["Retry-After"]) > 0
    assert len(mail.outbox) == 2


def test_reset_sends_are_rate_limited_per_client(client, make_user, settings):
    settings.ACCOUNT_EMAILS_PER_IP = 3
    codes = [
        client.post("/accounts/password/reset/", {"email": f"p{n}@example.com"}).status_code
        for n in range(4)
    ]
    assert codes == [302, 302, 302, 429]


def test_reset_email_is_in_the_recipients_language(client, make_user):
    make_user("jun", email="jun@example.com", locale="ko")
    mail.outbox.clear()
    client.post("/accounts/password/reset/", {"email": "jun@example.com"})
    (message,) = mail.outbox
    assert "비밀번호" in message.subject
    assert "Choose a new password" not in message.body


@pytest.mark.parametrize("language", ["en", "ko", "ja"])
def test_reset_pages_render_in_each_language(client, language):
    client.cookies["django_language"] = language
    for url in (
        "/accounts/password/reset/",
        "/accounts/password/reset/sent/",
        "/accounts/password/reset/complete/",
        "/accounts/password/reset/MQ/bad-token/",
    ):
        assert client.get(url).status_code == 200


def test_a_weak_new_password_is_a_form_error(client, mina):
    client.post("/accounts/password/reset/", {"email": "mina@example.com"})
    form_page = client.get(the_link(mail.outbox[0]), follow=True)
    response = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": "123", "new_password2": "123"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors


# --- Password reset by API ----------------------------------------------------------------


def test_api_reset_request_answers_the_same_either_way(api_client, mina):
    known = api_client.post(
        "/api/v1/auth/password-reset/", {"email": "mina@example.com"}, format="json"
    )
    unknown = api_client.post(
        "/api/v1/auth/password-reset/", {"email": "nobody@example.com"}, format="json"
    )
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert len(mail.outbox) == 1


def test_api_reset_request_is_rate_limited(api_client, mina, settings):
    settings.ACCOUNT_EMAILS_PER_ADDRESS = 1
    url = "/api/v1/auth/password-reset/"
    assert api_client.post(url, {"email": "x@example.com"}, format="json").status_code == 202
    limited = api_client.post(url, {"email": "x@example.com"}, format="json")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"


def test_api_reset_confirm_with_the_emailed_uid_and_token(api_client, mina):
    api_client.post("/api/v1/auth/password-reset/", {"email": "mina@example.com"}, format="json")
    _, _, _, _, uid, token, _ = the_link(mail.outbox[0]).split("/")
    url = "/api/v1/auth/password-reset/confirm/"
    weak = api_client.post(url, {"uid": uid, "token": token, "new_password": "123"}, format="json")
    assert weak.status_code == 400 and "new_password" in weak.json()["error"]["fields"]
    ok = api_client.post(
        url, {"uid": uid, "token": token, "new_password": NEW_PASSWORD}, format="json"
    )
    assert ok.status_code == 204
    mina.refresh_from_db()
    assert mina.check_password(NEW_PASSWORD) and mina.email_verified
    reused = api_client.post(
        url, {"uid": uid, "token": token, "new_password": NEW_PASSWORD + "x"}, format="json"
    )
    assert reused.status_code == 400
    assert reused.json()["error"]["code"] == "invalid_token"


@pytest.mark.parametrize(
    "body",
    [
        {"uid": "!!", "token": "x", "new_password": NEW_PASSWORD},
        {"uid": "OTk5OTk5", "token": "x", "new_password": NEW_PASSWORD},
        {"uid": "", "token": "", "new_password": ""},
        {},
    ],
)
def test_api_reset_confirm_bad_input_is_400(api_client, body):
    response = api_client.post("/api/v1/auth/password-reset/confirm/", body, format="json")
    assert response.status_code == 400


# --- Email verification -------------------------------------------------------------------


def test_sign_up_with_an_email_sends_a_verification_link(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/accounts/signup/",
            {"username": "haruto", "email": "haruto@example.com", "password": NEW_PASSWORD},
        )
    assert response.status_code == 302
    user = User.objects.get(username="haruto")
    assert not user.email_verified
    (message,) = mail.outbox
    assert message.to == ["haruto@example.com"]
    banner = client.get("/wallet/").content.decode()
    assert 'id="recovery-banner"' in banner and "Verify haruto@example.com" in banner
    page = client.get(the_link(message))
    assert page.status_code == 200 and "is verified" in page.content.decode()
    user.refresh_from_db()
    assert user.email_verified
    assert 'id="recovery-banner"' not in client.get("/wallet/").content.decode()


def test_no_email_shows_the_recovery_warning(make_user):
    client = Client()
    client.force_login(make_user("noemail"))
    page = client.get("/wallet/").content.decode()
    assert 'id="recovery-banner"' in page
    assert "you lose the account and its wallet" in page
    assert 'href="/settings/account/email/"' in page


def test_changing_email_unverifies_and_voids_older_links(mina, django_capture_on_commit_callbacks):
    client = Client()
    client.force_login(mina)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/settings/account/email/verify/")
    old_link = the_link(mail.outbox[-1])
    User.objects.filter(pk=mina.pk).update(email_verified=True)
    wrong = client.post(
        "/settings/account/email/", {"email": "new@example.com", "password": "wrong"}
    )
    assert wrong.status_code == 200 and wrong.context["form"].errors["password"]
    with django_capture_on_commit_callbacks(execute=True):
        changed = client.post(
            "/settings/account/email/", {"email": "new@example.com", "password": TEST_PASSWORD}
        )
    assert changed.status_code == 302
    mina.refresh_from_db()
    assert (mina.email, mina.email_verified) == ("new@example.com", False)
    assert mail.outbox[-1].to == ["new@example.com"]
    assert client.get(old_link).status_code == 400  # sent to the old address
    assert client.get(the_link(mail.outbox[-1])).status_code == 200
    mina.refresh_from_db()
    assert mina.email_verified


def test_verification_sends_are_rate_limited(mina, settings):
    settings.ACCOUNT_EMAILS_PER_ADDRESS = 1
    client = Client()
    client.force_login(mina)
    client.post("/settings/account/email/verify/")
    response = client.post("/settings/account/email/verify/", follow=True)
    assert "Too many emails were requested" in response.content.decode()


@pytest.mark.parametrize("token", ["garbage", "a" * 300, "eyJ1Ijo5OX0:1abc:def"])
def test_bad_verification_links_are_400(client, token):
    assert client.get(f"/accounts/email/verify/{token}/").status_code == 400


def test_api_email_change_and_verification(mina, client_for, django_capture_on_commit_callbacks):
    app = client_for(mina)
    me = app.get("/api/v1/me/").json()
    assert (me["email"], me["email_verified"]) == ("mina@example.com", False)
    wrong = app.post("/api/v1/me/email/", {"email": "a@example.com", "password": "no"})
    assert wrong.status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        changed = app.post(
            "/api/v1/me/email/",
            {"email": "mina2@example.com", "password": TEST_PASSWORD},
            format="json",
        )
    assert changed.status_code == 200
    assert changed.json() == {"email": "mina2@example.com", "email_verified": False}
    token = the_link(mail.outbox[-1]).rstrip("/").rsplit("/", 1)[1]
    with django_capture_on_commit_callbacks(execute=True):
        resend = app.post("/api/v1/me/email/verification/")
    assert resend.status_code == 202
    bad = app.post("/api/v1/auth/email/verify/", {"token": "nope"}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_token"
    verified = app.post("/api/v1/auth/email/verify/", {"token": token}, format="json")
    assert verified.json() == {"email": "mina2@example.com", "email_verified": True}
    assert app.post("/api/v1/me/email/verification/").status_code == 409
    assert app.get("/api/v1/me/").json()["email_verified"] is True


def test_api_verification_without_an_email_is_400(make_user, client_for):
    response = client_for(make_user()).post("/api/v1/me/email/verification/")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "no_email"


def test_recovery_endpoints_are_in_the_openapi_schema(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path in (
        "/api/v1/auth/password-reset/",
        "/api/v1/auth/password-reset/confirm/",
        "/api/v1/auth/email/verify/",
        "/api/v1/me/email/",
        "/api/v1/me/email/verification/",
    ):
        assert "post" in schema["paths"][path]
