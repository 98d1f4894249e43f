"""Preferences, quiet hours in the user's time zone, and the email digest task."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from community.chat.services import send_message
from community.notifications.models import Notification
from community.notifications.selectors import in_quiet_hours
from community.notifications.services import (
    send_notification_digest,
    update_notification_settings,
)
from community.notifications.tasks import send_notification_digests
from community.rooms.models import Membership
from tests.support.accounts import client_for

UTC = ZoneInfo("UTC")


def at(tz: str, *args) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz))


@pytest.mark.parametrize(
    ("start", "end", "tz", "now", "quiet"),
    [
        # A window across midnight, in Seoul (UTC+9): 22:00-07:00 local.
        (time(22), time(7), "Asia/Seoul", at("UTC", 2026, 5, 1, 13, 0), True),  # 22:00 KST
        (time(22), time(7), "Asia/Seoul", at("UTC", 2026, 5, 1, 12, 59), False),  # 21:59
        (time(22), time(7), "Asia/Seoul", at("UTC", 2026, 5, 1, 21, 59), True),  # 06:59
        (time(22), time(7), "Asia/Seoul", at("UTC", 2026, 5, 1, 22, 0), False),  # 07:00 end
        # A daytime window; the same UTC instant is quiet in one zone, not in another.
        (time(9), time(17), "America/New_York", at("UTC", 2026, 5, 1, 14), True),
        (time(9), time(17), "Europe/London", at("UTC", 2026, 5, 1, 17), False),
        # DST: 01:30 local exists twice in New York on 2026-11-01; both are quiet.
        (time(1), time(2), "America/New_York", at("UTC", 2026, 11, 1, 5, 30), True),
        (time(1), time(2), "America/New_York", at("UTC", 2026, 11, 1, 6, 30), True),
        # Spring forward: 02:30 does not exist; 03:30 EDT is outside 02:00-03:00.
        (time(2), time(3), "America/New_York", at("UTC", 2026, 3, 8, 7, 30), False),
        # Equal or missing times: no quiet hours; an unknown zone falls back to UTC.
        (time(8), time(8), "UTC", at("UTC", 2026, 5, 1, 8), False),
        (None, time(8), "UTC", at("UTC", 2026, 5, 1, 7), False),
        (time(0), time(1), "Not/AZone", at("UTC", 2026, 5, 1, 0, 30), True),
    ],
)
def test_quiet_hours_in_the_users_time_zone(start, end, tz, now, quiet):
    assert in_quiet_hours(start=start, end=end, tz_name=tz, now=now) is quiet


@pytest.mark.django_db
def test_settings_api_round_trip_and_validation(make_user):
    user = make_user("sleepy", timezone="Asia/Seoul")
    client = client_for(user)
    url = "/api/v1/me/notification-settings/"
    assert client.get(url).json() == {
        "muted_kinds": [],
        "email_digest": True,
        "push_previews": True,
        "quiet_hours_start": None,
        "quiet_hours_end": None,
        "timezone": "Asia/Seoul",
    }
    response = client.patch(
        url,
        {
            "muted_kinds": ["tip", "follower"],
            "quiet_hours_start": "22:30",
            "quiet_hours_end": "07:00",
        },
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["muted_kinds"] == ["follower", "tip"]
    assert response.json()["quiet_hours_start"] == "22:30"
    bad = client.patch(url, {"muted_kinds": ["spam"], "quiet_hours_end": "25:00"}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"muted_kinds", "quiet_hours_end"}
    assert client.get(url).json()["quiet_hours_end"] == "07:00"  # unchanged


@pytest.fixture
def mentioned(make_user, make_room, make_member, settings):
    settings.NOTIFY_DIGEST_DELAY_MINUTES = 30
    reader = make_user("reader", email="reader@example.com", locale="en")
    talker = make_user("talker")
    room = make_room(owner=talker, nickname="Talker", title="Night owls")
    reader_membership = make_member(room, reader, nickname="Reader")
    talker_membership = Membership.objects.get(room=room, user=talker)
    original = send_message(membership=reader_membership, body="who is up?")
    send_message(membership=talker_membership, body="@Reader me")
    send_message(membership=talker_membership, body="me too", reply_to_id=original.pk)
    return reader, talker_membership


def age_notifications(minutes: int) -> None:
    Notification.objects.update(created_at=timezone.now() - timedelta(minutes=minutes))


@pytest.mark.django_db
def test_digest_emails_unread_mentions_and_replies_once(mentioned):
    reader, talker_membership = mentioned
    assert send_notification_digests() == 0  # too fresh: the reader may still see them
    assert mail.outbox == []
    age_notifications(31)
    assert send_notification_digests() == 1
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["reader@example.com"]
    assert "Talker mentioned you in Night owls" in email.body
    assert "Talker replied to your message in Night owls" in email.body
    assert "talker" not in email.body  # the actor's main name never appears
    # Idempotent: nothing is emailed twice.
    assert send_notification_digests() == 0
    assert send_notification_digest(user_id=reader.pk) == 0
    assert len(mail.outbox) == 1
    # Read notifications are not emailed.
    send_message(membership=talker_membership, body="@Reader again")
    Notification.objects.filter(emailed_at__isnull=True).update(read_at=timezone.now())
    age_notifications(31)
    assert send_notification_digests() == 0


@pytest.mark.django_db
def test_digest_waits_for_the_end_of_quiet_hours(mentioned):
    reader, _talker = mentioned
    reader.timezone = "Asia/Seoul"
    reader.save(update_fields=["timezone"])
    update_notification_settings(user=reader, quiet_hours_start="22:00", quiet_hours_end="07:00")
    age_notifications(120)
    night = at("Asia/Seoul", 2026, 5, 1, 23, 30)
    assert send_notification_digest(user_id=reader.pk, now=night) == 0
    assert mail.outbox == []
    morning = at("Asia/Seoul", 2026, 5, 2, 7, 0)
    Notification.objects.update(created_at=morning - timedelta(hours=9))
    assert send_notification_digest(user_id=reader.pk, now=morning) == 2
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_digest_respects_opt_out_muted_kinds_and_missing_email(mentioned, make_user):
    reader, _talker = mentioned
    age_notifications(31)
    update_notification_settings(user=reader, email_digest=False)
    assert send_notification_digest(user_id=reader.pk) == 0
    update_notification_settings(user=reader, email_digest=True, muted_kinds=["reply"])
    assert send_notification_digest(user_id=reader.pk) == 1
    assert "replied" not in mail.outbox[0].body
    assert send_notification_digest(user_id=make_user("noemail").pk) == 0
    assert send_notification_digest(user_id=999_999) == 0  # a deleted user


@pytest.mark.django_db
def test_digest_is_in_the_recipients_language_and_time_zone(mentioned):
    from django.utils import translation

    reader, _talker = mentioned
    reader.locale, reader.timezone = "ko", "Asia/Seoul"
    reader.save(update_fields=["locale", "timezone"])
    sent_at = at("UTC", 2026, 5, 1, 23, 10)  # 08:10 on 2 May in Seoul
    Notification.objects.update(created_at=sent_at)
    assert send_notification_digest(user_id=reader.pk, now=sent_at + timedelta(hours=1)) == 2
    # Django's Korean date format ("2026년 5월 2일") shows the language and the zone.
    assert "2026년 5월 2일 08:10" in mail.outbox[0].body
    assert translation.get_language() != "ko"  # restored afterwards


def test_beat_schedule_runs_the_digest(settings):
    assert settings.CELERY_BEAT_SCHEDULE["community-notification-digest"]["task"] == (
        "community.tasks.send_notification_digests"
    )
    assert "commerce-mature-earnings" in settings.CELERY_BEAT_SCHEDULE  # kept the ledger's


@pytest.mark.django_db
def test_a_failed_send_is_retried_on_the_next_run(mentioned, settings):
    reader, _talker = mentioned
    age_notifications(31)
    # SMTP to a port nothing listens on: the send fails for real.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2
    assert send_notification_digests() == 0
    assert not Notification.objects.filter(emailed_at__isnull=False).exists()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert send_notification_digests() == 1
    assert Notification.objects.filter(recipient=reader, emailed_at__isnull=False).count() == 2
