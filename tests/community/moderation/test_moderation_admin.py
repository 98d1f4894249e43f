"""The moderators' desk in the Django admin: queue, case page, actions, audit log, roles."""

import pytest
from django.contrib import admin as django_admin
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from community.chat.models import Message
from community.moderation.models import AuditLogEntry, ModerationCase
from community.moderation.services import check_file_report
from community.notifications.models import Notification
from community.rooms.models import Membership, Room
from profiles.models import User
from tests.community.moderation_helpers import (
    make_moderator,
    make_superuser,
    moderators_group,
    post_message,
)
from tests.support.accounts import client_for

pytestmark = pytest.mark.django_db

QUEUE_URL = "/admin/community/moderationcase/"
AUDIT_URL = "/admin/community/auditlogentry/"


def change_url(case) -> str:
    return reverse("admin:community_moderationcase_change", args=[case.pk])


def logged_in(user) -> Client:
    client = client_for(user, session=True)
    return client


@pytest.fixture
def moderator(make_user):
    return make_moderator(make_user, "mod")


@pytest.fixture
def scene(make_room, make_user, make_member):
    """A room, an author with a few messages, and one reported message."""
    room = make_room(title="Night <b>owls</b>")
    author = make_member(room, make_user("author"), nickname="<script>x</script>")
    bystander = make_member(room, make_user(), nickname="bystander")
    post_message(bystander, "before it")
    bad = post_message(author, "you are <img src=x onerror=alert(1)>")
    post_message(bystander, "after it")
    case = check_file_report(
        reporter=make_user(), target_type="message", target_id=bad.pk, reason="harassment"
    )
    return {"room": room, "author": author, "message": bad, "case": case}


@override_settings(MODERATION_REPORTS_PER_HOUR=1000)
def report_many(make_room, make_user, make_member, count: int) -> None:
    reporter_pool = [make_user() for _ in range(3)]
    for index in range(count):
        room = make_room(title=f"room {index}")
        member = make_member(room, make_user())
        message = post_message(member, f"message {index}")
        for reporter in reporter_pool[: 1 + index % 3]:
            check_file_report(
                reporter=reporter, target_type="message", target_id=message.pk, reason="spam"
            )


# --- the group ---


def test_moderators_group_has_exactly_the_desk_permissions():
    codenames = set(moderators_group().permissions.values_list("codename", flat=True))
    assert codenames == {
        "view_moderationcase",
        "change_moderationcase",
        "view_report",
        "view_appeal",
        "view_auditlogentry",
        "view_blockedpattern",
        "add_blockedpattern",
        "change_blockedpattern",
        "delete_blockedpattern",
    }


DESK_MODELS = {"moderationcase", "report", "appeal", "auditlogentry", "blockedpattern"}


def test_moderator_sees_the_desk_and_nothing_else(moderator, scene):
    client = logged_in(moderator)
    assert client.get("/admin/").status_code == 200
    for model in DESK_MODELS:
        assert client.get(f"/admin/community/{model}/").status_code == 200, model
    assert client.get(change_url(scene["case"])).status_code == 200
    # Every other registered admin model, commerce's included, is refused.
    refused = [m for m in django_admin.site._registry if m._meta.model_name not in DESK_MODELS]
    assert any(m._meta.app_label == "profiles" for m in refused)
    for model in refused:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert client.get(url).status_code == 403, url
    user_page = reverse("admin:profiles_user_change", args=[scene["author"].user_id])
    assert client.get(user_page).status_code == 403
    # And the desk itself cannot add or delete cases, or touch the audit log.
    assert client.get(QUEUE_URL + "add/").status_code == 403
    assert (
        client.get(
            reverse("admin:community_moderationcase_delete", args=[scene["case"].pk])
        ).status_code
        == 403
    )


def test_commerce_admin_is_refused_to_moderators(moderator):
    client = logged_in(moderator)
    commerce = [m for m in django_admin.site._registry if m._meta.app_label == "commerce"]
    for model in commerce:
        url = reverse(f"admin:commerce_{model._meta.model_name}_changelist")
        assert client.get(url).status_code == 403
    # The app index is refused too (an app with no visible models is 404 or 403).
    assert client.get("/admin/commerce/").status_code in (403, 404)


def test_superuser_sees_everything(make_user, scene):
    client = logged_in(make_superuser(make_user, "root"))
    for model in django_admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert client.get(url).status_code == 200, url


def test_plain_staff_and_members_are_refused(make_user, scene):
    staff = make_user("staffer")
    staff.is_staff = True
    staff.save()
    assert logged_in(staff).get(QUEUE_URL).status_code == 403
    member = logged_in(scene["author"].user)
    assert member.get(QUEUE_URL).status_code == 302  # to the admin log-in


# --- the queue ---


def test_queue_lists_open_cases_worst_first(moderator, make_room, make_user, make_member):
    room = make_room()
    members = [make_member(room, make_user(), nickname=f"m{i}") for i in range(3)]
    reporters = [make_user() for _ in range(3)]
    # spam x3, violence x1, spam x1
    for reporter in reporters:
        check_file_report(
            reporter=reporter, target_type="member", target_id=members[0].pk, reason="spam"
        )
    check_file_report(
        reporter=reporters[0], target_type="member", target_id=members[1].pk, reason="violence"
    )
    check_file_report(
        reporter=reporters[0], target_type="member", target_id=members[2].pk, reason="spam"
    )
    closed = check_file_report(
        reporter=reporters[1], target_type="room", target_id=room.pk, reason="illegal"
    )
    ModerationCase.objects.filter(pk=closed.pk).update(status="resolved")

    response = logged_in(moderator).get(QUEUE_URL)
    assert response.status_code == 200
    rows = list(response.context["cl"].result_list)
    assert [(c.membership_id, c.reporter_count) for c in rows] == [
        (members[1].pk, 1),
        (members[0].pk, 3),
        (members[2].pk, 1),
    ]
    all_cases = logged_in(moderator).get(QUEUE_URL + "?status=all")
    assert len(all_cases.context["cl"].result_list) == 4


@pytest.mark.parametrize(
    "url", [QUEUE_URL, QUEUE_URL + "?status=all", AUDIT_URL, "/admin/community/report/"]
)
def test_changelists_run_a_fixed_number_of_queries(
    url, moderator, make_room, make_user, make_member, django_assert_max_num_queries
):
    client = logged_in(moderator)
    report_many(make_room, make_user, make_member, 3)
    AuditLogEntry.objects.create(
        actor=moderator, action="warn", target_type="user", target_id=1, target_repr="u"
    )
    with django_assert_max_num_queries(12) as small:
        assert client.get(url).status_code == 200
    report_many(make_room, make_user, make_member, 27)
    for _ in range(30):
        AuditLogEntry.objects.create(
            actor=moderator, action="warn", target_type="user", target_id=1, target_repr="u"
        )
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(url)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) >= 30


def test_case_page_query_count_does_not_grow_with_history(
    moderator, scene, make_user, django_assert_max_num_queries
):
    client = logged_in(moderator)
    with django_assert_max_num_queries(30) as small:
        client.get(change_url(scene["case"]))
    for index in range(20):
        post_message(scene["author"], f"more {index}")
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(change_url(scene["case"])).status_code == 200


# --- the case page ---


def test_case_page_shows_content_context_room_and_history_escaped(moderator, scene, make_user):
    # An earlier, closed case about the same author shows in the history.
    earlier = check_file_report(
        reporter=make_user(), target_type="member", target_id=scene["author"].pk, reason="spam"
    )
    ModerationCase.objects.filter(pk=earlier.pk).update(status="dismissed")
    html = logged_in(moderator).get(change_url(scene["case"])).content.decode()
    # The reported body, the messages around it, the room and the history, escaped.
    assert "you are &lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert "<script>x</script>" not in html
    assert "before it" in html and "after it" in html
    assert "Night &lt;b&gt;owls&lt;/b&gt;" in html
    assert f"#{earlier.pk}</a>" in html
    # Private data beyond the case is not on the page.
    assert scene["author"].user.email not in html or not scene["author"].user.email


def act(client, case, **data):
    return client.post(change_url(case), data)


def test_hide_message_from_the_case_page_writes_audit_in_same_step(moderator, scene):
    client = logged_in(moderator)
    response = act(client, scene["case"], action="hide_message", note="abusive")
    assert response.status_code == 302
    message = Message.objects.get(pk=scene["message"].pk)
    assert message.deleted_at is not None
    entry = AuditLogEntry.objects.get(action="hide_message")
    assert entry.actor == moderator
    assert entry.reason == "abusive"
    assert entry.target_id == message.pk
    assert entry.case_id == scene["case"].pk
    assert entry.subject_id == scene["author"].user_id
    # The case stays open until resolved.
    assert ModerationCase.objects.get(pk=scene["case"].pk).status == "open"


def test_an_action_needs_a_note(moderator, scene):
    response = act(logged_in(moderator), scene["case"], action="warn", note="")
    assert response.status_code == 200  # the form again, with the error
    assert "Write a short note" in response.content.decode()
    assert not AuditLogEntry.objects.exists()


def test_warn_mute_ban_suspend_and_resolve(moderator, scene):
    client = logged_in(moderator)
    case = scene["case"]
    assert act(client, case, action="warn", note="first warning").status_code == 302
    assert act(client, case, action="mute", minutes="30", note="cool down").status_code == 302
    member = Membership.objects.get(pk=scene["author"].pk)
    assert member.muted_until > timezone.now()
    assert act(client, case, action="ban", note="repeat").status_code == 302
    member.refresh_from_db()
    assert member.state == Membership.State.BANNED
    assert act(client, case, action="suspend_user", minutes="1440", note="site").status_code == 302
    assert User.objects.get(pk=member.user_id).suspended_until > timezone.now()
    assert act(client, case, action="resolve", note="handled").status_code == 302
    case.refresh_from_db()
    assert (case.status, case.closed_by, case.resolution_note) == ("resolved", moderator, "handled")
    actions = list(AuditLogEntry.objects.order_by("id").values_list("action", "actor", "reason"))
    assert actions == [
        ("warn", moderator.pk, "first warning"),
        ("mute", moderator.pk, "cool down"),
        ("ban", moderator.pk, "repeat"),
        ("suspend_user", moderator.pk, "site"),
        ("resolve", moderator.pk, "handled"),
    ]
    # A closed case offers no more actions.
    after = act(client, case, action="warn", note="again")
    assert AuditLogEntry.objects.count() == 5
    assert after.status_code == 302


def test_suspend_room_and_dismiss(moderator, scene, make_user):
    room_case = check_file_report(
        reporter=make_user(), target_type="room", target_id=scene["room"].pk, reason="hate"
    )
    client = logged_in(moderator)
    assert act(client, room_case, action="suspend_room", note="hate room").status_code == 302
    assert Room.objects.get(pk=scene["room"].pk).is_suspended
    assert act(client, room_case, action="unsuspend_room", note="cleaned up").status_code == 302
    assert not Room.objects.get(pk=scene["room"].pk).is_suspended
    assert act(client, scene["case"], action="dismiss", note="not abuse").status_code == 302
    assert ModerationCase.objects.get(pk=scene["case"].pk).status == "dismissed"
    # The reporter is told how their report ended.
    reporter = scene["case"].reports.get().reporter
    outcome = Notification.objects.get(recipient=reporter, kind="moderation")
    assert outcome.data["outcome"] == "dismissed"
    assert outcome.read_at is None
    assert set(AuditLogEntry.objects.values_list("action", flat=True)) == {
        "suspend_room",
        "unsuspend_room",
        "dismiss",
    }


def test_an_action_that_does_not_fit_the_case_is_refused_with_a_message(
    moderator, scene, make_user
):
    room_case = check_file_report(
        reporter=make_user(), target_type="room", target_id=scene["room"].pk, reason="spam"
    )
    response = logged_in(moderator).post(
        change_url(room_case), {"action": "hide_message", "note": "x"}, follow=True
    )
    assert "not about a message" in response.content.decode()
    assert not AuditLogEntry.objects.exists()


def test_bulk_dismiss_asks_for_a_note_then_audits_each(
    moderator, make_room, make_user, make_member
):
    report_many(make_room, make_user, make_member, 3)
    ids = [str(pk) for pk in ModerationCase.objects.values_list("pk", flat=True)]
    client = logged_in(moderator)
    confirm = client.post(QUEUE_URL, {"action": "dismiss_selected", "_selected_action": ids})
    assert confirm.status_code == 200
    assert "Note (why)" in confirm.content.decode()
    assert ModerationCase.objects.filter(status="open").count() == 3
    done = client.post(
        QUEUE_URL,
        {"action": "dismiss_selected", "_selected_action": ids, "apply": "1", "note": "noise"},
    )
    assert done.status_code == 302
    assert ModerationCase.objects.filter(status="dismissed").count() == 3
    assert AuditLogEntry.objects.filter(action="dismiss", reason="noise").count() == 3


def test_bulk_hide_reported_messages(moderator, make_room, make_user, make_member):
    report_many(make_room, make_user, make_member, 3)
    ids = [str(pk) for pk in ModerationCase.objects.values_list("pk", flat=True)]
    response = logged_in(moderator).post(
        QUEUE_URL, {"action": "hide_reported_messages", "_selected_action": ids}
    )
    assert response.status_code == 302
    assert Message.objects.filter(deleted_at__isnull=False).count() == 3
    assert AuditLogEntry.objects.filter(action="hide_message").count() == 3


# --- the audit log ---


def test_audit_log_is_read_only_in_the_admin(moderator, make_user, scene):
    act(logged_in(moderator), scene["case"], action="warn", note="careful")
    entry = AuditLogEntry.objects.get()
    for user in (moderator, make_superuser(make_user, "root")):
        client = logged_in(user)
        page = client.get(reverse("admin:community_auditlogentry_change", args=[entry.pk]))
        assert page.status_code == 200
        assert "careful" in page.content.decode()
        assert 'name="reason"' not in page.content.decode()
        assert client.get(AUDIT_URL + "add/").status_code == 403
        delete_url = reverse("admin:community_auditlogentry_delete", args=[entry.pk])
        assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert AuditLogEntry.objects.filter(pk=entry.pk, reason="careful").exists()


def test_audit_log_rows_cannot_be_changed_or_deleted_in_code(moderator):
    entry = AuditLogEntry.objects.create(
        actor=moderator, action="warn", target_type="user", target_id=1, target_repr="u"
    )
    entry.reason = "rewritten"
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        AuditLogEntry.objects.all().delete()
    with pytest.raises(TypeError):
        AuditLogEntry.objects.update(reason="x")
    assert AuditLogEntry.objects.get().reason == ""


def test_a_failed_action_leaves_no_audit_entry(moderator, scene):
    """The audit entry commits with the action or not at all."""
    Message.objects.filter(pk=scene["message"].pk).delete()
    ModerationCase.objects.filter(pk=scene["case"].pk).update(message=None)
    act(logged_in(moderator), scene["case"], action="hide_message", note="gone")
    assert not AuditLogEntry.objects.exists()


# --- site-wide word filters in the admin ---


def test_moderator_adds_a_site_filter_with_audit(moderator):
    client = logged_in(moderator)
    response = client.post(
        "/admin/community/blockedpattern/add/",
        {"kind": "pattern", "text": r"fr[e3]{2}\s*coins", "action": "block", "is_active": "on"},
    )
    assert response.status_code == 302
    entry = AuditLogEntry.objects.get()
    assert (entry.action, entry.actor) == ("add_filter", moderator)


def test_unsafe_or_invalid_patterns_are_refused_in_the_admin(moderator):
    client = logged_in(moderator)
    bad = client.post(
        "/admin/community/blockedpattern/add/",
        {"kind": "pattern", "text": "([a-z]+", "action": "block", "is_active": "on"},
    )
    assert bad.status_code == 200
    assert "Not a valid pattern" in bad.content.decode()
    too_long = client.post(
        "/admin/community/blockedpattern/add/",
        {"kind": "word", "text": "x" * 201, "action": "block", "is_active": "on"},
    )
    assert too_long.status_code == 200
    assert not AuditLogEntry.objects.exists()


@pytest.mark.postgres_only
def test_postgres_refuses_to_rewrite_or_delete_audit_rows(make_user, moderator):
    from django.db import connection, transaction
    from django.db.utils import DatabaseError

    subject = make_user("subject")
    entry = AuditLogEntry.objects.create(
        actor=moderator,
        subject=subject,
        action="warn",
        target_type="user",
        target_id=subject.pk,
        target_repr="u",
        reason="original",
    )
    for sql in (
        "UPDATE community_auditlogentry SET reason = 'rewritten' WHERE id = %s",
        "UPDATE community_auditlogentry SET actor_id = NULL, reason = 'x' WHERE id = %s",
        "DELETE FROM community_auditlogentry WHERE id = %s",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [entry.pk])
    # Deleting a user still works: only the link is cleared, the record stays.
    User.objects.filter(pk=subject.pk).delete()
    kept = AuditLogEntry.objects.get(pk=entry.pk)
    assert (kept.subject_id, kept.reason) == (None, "original")


@pytest.mark.parametrize("role", ["member", "owner", "cohost", "moderator", "superuser"])
def test_desk_action_matrix(role, scene, make_user, make_member):
    room = scene["room"]
    if role == "member":
        user = make_member(room, make_user(), nickname="m").user
    elif role == "owner":
        user = room.owner
    elif role == "cohost":
        cohost = make_member(room, make_user(), nickname="c")
        Membership.objects.filter(pk=cohost.pk).update(role=Membership.Role.COHOST)
        user = cohost.user
    elif role == "moderator":
        user = make_moderator(make_user)
    else:
        user = make_superuser(make_user)
    response = act(logged_in(user), scene["case"], action="hide_message", note="x")
    hidden = Message.objects.get(pk=scene["message"].pk).deleted_at is not None
    if role in ("moderator", "superuser"):
        assert response.status_code == 302
        assert hidden
        assert AuditLogEntry.objects.get().actor == user
    else:
        # Room hosts are not staff: the admin sends them to its log-in page.
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]
        assert not hidden
        assert not AuditLogEntry.objects.exists()
