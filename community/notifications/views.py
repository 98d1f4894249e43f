"""Pages for notifications, "my rooms" and notification preferences.

They translate requests to ``community.notifications.services`` and its selectors.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from community.notifications import services
from community.notifications.models import Notification, RoomNotificationLevel
from community.notifications.selectors import (
    my_rooms,
    notification_payload,
    notifications_for,
    room_level,
    settings_for,
    unread_counts,
)
from config.errors import DomainError, NotFoundError

PAGE_SIZE = 50
MY_ROOMS_PAGE_SIZE = 100


class NotificationSettingsForm(forms.Form):
    muted_kinds = forms.MultipleChoiceField(
        label=gettext_lazy("Do not notify me about"),
        choices=Notification.Kind.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    email_digest = forms.BooleanField(
        label=gettext_lazy("Email me unread mentions and replies"), required=False
    )
    quiet_hours_start = forms.TimeField(
        label=gettext_lazy("Quiet hours from"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    quiet_hours_end = forms.TimeField(
        label=gettext_lazy("Quiet hours until"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )


@login_required
def notification_list(request):
    queryset = notifications_for(user_id=request.user.pk)
    before = request.GET.get("before", "")
    if before.isdigit():
        queryset = queryset.filter(pk__lt=int(before))
    rows = list(queryset[: PAGE_SIZE + 1])
    prefs = settings_for(user_id=request.user.pk)
    form = NotificationSettingsForm(
        initial={
            "muted_kinds": prefs.muted_kinds,
            "email_digest": prefs.email_digest,
            "quiet_hours_start": prefs.quiet_hours_start,
            "quiet_hours_end": prefs.quiet_hours_end,
        }
    )
    return render(
        request,
        "community/notifications.html",
        {
            "notifications": [
                {"row": row, "payload": notification_payload(row)} for row in rows[:PAGE_SIZE]
            ],
            "older": rows[PAGE_SIZE - 1].pk if len(rows) > PAGE_SIZE else None,
            "unread": unread_counts(user_id=request.user.pk),
            "settings_form": form,
        },
    )


@login_required
@require_POST
def notification_read(request, notification_id: int):
    try:
        notification = services.mark_notification_read(
            user=request.user, notification_id=notification_id
        )
    except NotFoundError as exc:
        raise Http404(exc.message) from exc
    if notification.room_id:
        return redirect("room-detail", room_id=notification.room_id)
    return redirect("notifications")


@login_required
@require_POST
def notification_read_all(request):
    services.mark_all_notifications_read(user=request.user)
    messages.success(request, _("All notifications marked as read."))
    return redirect("notifications")


@login_required
@require_POST
def notification_settings(request):
    form = NotificationSettingsForm(request.POST)
    if form.is_valid():
        try:
            services.update_notification_settings(user=request.user, **form.cleaned_data)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Notification settings saved."))
    else:
        messages.error(request, _("Check the notification settings and try again."))
    return redirect("notifications")


@login_required
def my_rooms_page(request):
    memberships = list(
        my_rooms(user_id=request.user.pk).order_by("-activity", "-id")[:MY_ROOMS_PAGE_SIZE]
    )
    rows = [
        {
            "membership": membership,
            "unread": max(int(membership.unread), 0),
            "level": room_level(membership),
        }
        for membership in memberships
    ]
    return render(
        request,
        "community/my_rooms.html",
        {
            "rows": rows,
            "levels": RoomNotificationLevel.Level.choices,
            "unread": unread_counts(user_id=request.user.pk),
        },
    )


@login_required
@require_POST
def room_level_set(request, room_id: int):
    try:
        services.set_room_notification_level(
            user=request.user, room_id=room_id, level=request.POST.get("level", "")
        )
    except NotFoundError as exc:
        raise Http404(exc.message) from exc
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("my-rooms")
