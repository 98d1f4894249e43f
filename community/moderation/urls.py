"""Web pages of moderation: a room's moderation page, reports, appeals."""

from django.urls import path

from community.moderation import views

urlpatterns = [
    # Listed before the rooms' member actions, whose URL shape these share.
    *[
        path(
            f"rooms/<int:room_id>/members/<int:membership_id>/{action}/",
            views.member_sanction,
            {"action": action},
            name=f"room-member-sanction-{action}",
        )
        for action in ("mute", "ban", "unban")
    ],
    path(
        "rooms/<int:room_id>/moderation/",
        views.room_moderation,
        name="room-moderation",
    ),
    path(
        "report/<str:target_type>/<int:target_id>/",
        views.report,
        name="report",
    ),
    path("appeals/", views.appeal_list, name="appeal-list"),
    path("appeals/new/", views.appeal, name="appeal"),
]
