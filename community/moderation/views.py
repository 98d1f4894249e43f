"""Web pages for moderation: the hosts' room tools, reporting, appeals.

Views translate form posts into service calls and show a domain error in place
(as a flash message on the page the post came from).
"""

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from community import access
from community.moderation import selectors, services
from community.moderation.models import (
    Appeal,
    AuditLogEntry,
    BlockedPattern,
    ModerationCase,
    ReportReason,
    RoomAnnouncement,
)
from community.rooms.models import Membership, Room
from config.errors import DomainError

RECENT_LOG_ROWS = 20
MEMBERS_SHOWN = 100


class ReportForm(forms.Form):
    reason = forms.ChoiceField(label=gettext_lazy("Reason"), choices=ReportReason.choices)
    text = forms.CharField(
        label=gettext_lazy("Details (optional)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class AppealForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Why should the decision change?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 5}),
    )


def _host_room_or_404(request, room_id: int) -> Room:
    """Hosts and site moderators only; others get a 404 so the page's existence leaks nothing."""
    room = get_object_or_404(Room, pk=room_id)
    membership = access.active_membership(room_id=room.pk, user=request.user)
    if not access.can_moderate(user=request.user, membership=membership):
        raise Http404
    room.viewer_host_membership = membership
    return room


def _safe_back(request, fallback: str) -> str:
    """The page an action came from (``next``), when it is on this site."""
    back = request.POST.get("next") or request.GET.get("next") or ""
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return back
    return fallback


def member_menu_context(room: Room, viewer_membership: Membership | None, members) -> dict:
    """What the one member menu (``community/includes/member_menu.html``) needs on the
    member list and the room tools: whom the viewer may act on, and whether they may
    change roles and hand the room over."""
    return {
        "manageable_ids": {
            member.pk
            for member in members
            if member.state == Membership.State.ACTIVE
            and access.can_act_on(actor=viewer_membership, target=member)
        },
        "viewer_is_host": access.is_host(viewer_membership),
        "is_owner": access.is_owner(viewer_membership),
    }


# The member actions that ask first, and what each confirmation page says.
CONFIRMED_MEMBER_ACTIONS = ("kick", "ban", "transfer")


@login_required
@require_http_methods(["GET"])
def member_action_confirm(request, room_id: int, member_id: int, action: str):
    """ "Kick / Ban / Hand the room to “Minji”?": what the action does, named after the
    person, with the button that does it (a page, so it works without script). Only
    for someone the viewer may act on; anything else is a 404."""
    if action not in CONFIRMED_MEMBER_ACTIONS:
        raise Http404
    room = _host_room_or_404(request, room_id)
    viewer = room.viewer_host_membership
    member = get_object_or_404(Membership, pk=member_id, room=room, state=Membership.State.ACTIVE)
    if member.user_id == request.user.pk or not access.can_act_on(actor=viewer, target=member):
        raise Http404
    if action == "transfer" and not access.is_owner(viewer):
        raise Http404
    back = _safe_back(request, reverse("room-members", args=[room.pk]))
    return render(
        request,
        "community/moderation/member_confirm.html",
        {
            "room": room,
            "member": member,
            "action": action,
            "back": back,
            "undo_seconds": selectors.KICK_UNDO_SECONDS,
        },
    )


@login_required
@require_http_methods(["GET"])
def kicked_notice(request, room_id: int, member_id: int):
    """After a kick on the web: who was removed, and "Undo" while the host who kicked
    may still take it back (``KICK_UNDO_SECONDS``)."""
    room = _host_room_or_404(request, room_id)
    member = get_object_or_404(Membership, pk=member_id, room=room)
    deadline = selectors.kick_undo_deadline(
        actor=request.user, room_id=room.pk, member_id=member.pk
    )
    back = _safe_back(request, reverse("room-members", args=[room.pk]))
    return render(
        request,
        "community/moderation/kicked.html",
        {
            "room": room,
            "member": member,
            "back": back,
            "can_undo": deadline is not None and member.state == Membership.State.LEFT,
            "undo_seconds": selectors.KICK_UNDO_SECONDS,
            "deadline": deadline,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def room_moderation(request, room_id: int):
    room = _host_room_or_404(request, room_id)
    if request.method == "POST":
        back = _safe_back(request, reverse("room-moderation", args=[room.pk]))
        try:
            done = _apply_host_action(request, room)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            if request.POST.get("op") == "kick":
                # The notice with "Undo", then back where the kick came from.
                notice = reverse(
                    "room-member-kicked", args=[room.pk, _int(request.POST["member_id"])]
                )
                return redirect(f"{notice}?{urlencode({'next': back})}")
            messages.success(request, done)
        # The member list posts its actions here too, and goes back there.
        return redirect(back)
    members = list(selectors.room_members_for_hosts(room)[:MEMBERS_SHOWN])
    context = {
        **member_menu_context(room, room.viewer_host_membership, members),
        "room": room,
        "members": members,
        "filters": list(selectors.room_filters(room)),
        "held": list(selectors.pending_held_messages(room)[:50]),
        "announcement": RoomAnnouncement.objects.filter(room=room).first(),
        "log": list(
            AuditLogEntry.objects.filter(room=room)
            .select_related("actor")
            .order_by("-id")[:RECENT_LOG_ROWS]
        ),
        "filter_kinds": BlockedPattern.Kind.choices,
        "filter_actions": BlockedPattern.Action.choices,
        "slow_mode_max": services.SLOW_MODE_MAX_SECONDS,
    }
    return render(request, "community/moderation/room_tools.html", context)


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DomainError(_("Invalid request.")) from None


def _apply_host_action(request, room: Room) -> str:
    post = request.POST
    op = post.get("op", "")
    actor = request.user
    reason = post.get("reason", "")
    if op in {"kick", "ban", "unban", "mute", "undo_kick"}:
        member_id = _int(post.get("member_id"))
        if op == "undo_kick":
            member = services.check_undo_kick(actor=actor, room_id=room.pk, member_id=member_id)
            return _("“%(nickname)s” is back in the room.") % {"nickname": member.nickname}
        if op == "kick":
            services.check_kick_member(
                actor=actor, room_id=room.pk, member_id=member_id, reason=reason
            )
            return _("The member was removed from the room.")
        if op == "ban":
            services.check_ban_member(
                actor=actor, room_id=room.pk, member_id=member_id, reason=reason
            )
            return _("The member was banned.")
        if op == "unban":
            services.check_unban_member(
                actor=actor, room_id=room.pk, member_id=member_id, reason=reason
            )
            return _("The ban was lifted.")
        services.check_mute_member(
            actor=actor,
            room_id=room.pk,
            member_id=member_id,
            minutes=post.get("minutes", ""),
            reason=reason,
        )
        return _("Mute updated.")
    if op == "slow_mode":
        services.check_set_slow_mode(actor=actor, room_id=room.pk, seconds=post.get("seconds"))
        return _("Slow mode updated.")
    if op == "announcement":
        services.check_pin_announcement(actor=actor, room_id=room.pk, body=post.get("body", ""))
        return _("Announcement updated.")
    if op == "add_filter":
        services.check_add_room_filter(
            actor=actor,
            room_id=room.pk,
            kind=post.get("kind", ""),
            text=post.get("text", ""),
            action=post.get("action", ""),
        )
        return _("Filter added.")
    if op == "remove_filter":
        services.check_remove_room_filter(
            actor=actor, room_id=room.pk, filter_id=_int(post.get("filter_id"))
        )
        return _("Filter removed.")
    if op in {"approve", "reject"}:
        services.check_review_held_message(
            actor=actor, room_id=room.pk, held_id=_int(post.get("held_id")), approve=op == "approve"
        )
        return _("Message approved and sent.") if op == "approve" else _("Message rejected.")
    if op == "delete_message":
        services.check_hide_message(
            actor=actor, message_id=_int(post.get("message_id")), reason=reason
        )
        return _("The message was deleted.")
    raise DomainError(_("Unknown action."))


@login_required
@require_http_methods(["GET", "POST"])
def report(request, target_type: str, target_id: int):
    if target_type not in (
        ModerationCase.TargetType.MESSAGE,
        ModerationCase.TargetType.MEMBER,
        ModerationCase.TargetType.ROOM,
    ):
        raise Http404
    form = ReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.check_file_report(
                reporter=request.user,
                target_type=target_type,
                target_id=target_id,
                **form.cleaned_data,
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            return render(request, "community/moderation/report_done.html")
    return render(
        request,
        "community/moderation/report_form.html",
        {"form": form, "target_type": target_type, "target_id": target_id},
    )


@login_required
@require_http_methods(["GET", "POST"])
def appeal(request):
    """A banned member (``?member=<membership id>``) or a suspended user appeals once."""
    member_id = request.GET.get("member") or request.POST.get("member")
    membership = None
    if member_id:
        membership = (
            Membership.objects.select_related("room")
            .filter(pk=_int_or_404(member_id), user=request.user)
            .first()
        )
        if membership is None:
            raise Http404
    kind = Appeal.Kind.BAN if membership else Appeal.Kind.SUSPENSION
    form = AppealForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.check_file_appeal(
                user=request.user,
                kind=kind,
                member_id=membership.pk if membership else None,
                text=form.cleaned_data["text"],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Your appeal was sent to the moderators."))
            return redirect("appeal-list")
    return render(
        request,
        "community/moderation/appeal_form.html",
        {"form": form, "membership": membership, "kind": kind},
    )


@login_required
def appeal_list(request):
    """Your moderation notices (with a way to appeal a ban or suspension) and appeals."""
    appeals = list(Appeal.objects.filter(user=request.user).order_by("-id")[:50])
    notices = list(selectors.notices_for_user(request.user).order_by("-id")[:50])
    appealed = set(Appeal.objects.filter(user=request.user).values_list("sanction_id", flat=True))
    banned_ids = set(
        Membership.objects.filter(user=request.user, state=Membership.State.BANNED).values_list(
            "id", flat=True
        )
    )
    suspended = bool(request.user.suspended_until and request.user.suspended_until > timezone.now())
    for notice in notices:
        notice.appeal_url = ""
        if notice.pk in appealed:
            continue
        if notice.action == AuditLogEntry.Action.BAN and notice.target_id in banned_ids:
            notice.appeal_url = f"{reverse('appeal')}?member={notice.target_id}"
        elif notice.action == AuditLogEntry.Action.SUSPEND_USER and suspended:
            notice.appeal_url = reverse("appeal")
    return render(
        request,
        "community/moderation/appeal_list.html",
        {"appeals": appeals, "notices": notices},
    )


def _int_or_404(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404 from None
