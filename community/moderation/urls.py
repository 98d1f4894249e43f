"""Web pages of moderation: a room's moderation page, reports, appeals."""

from django.urls import path

from community.moderation import views

urlpatterns = [
    path(
        "rooms/<int:room_id>/moderation/",
        views.room_moderation,
        name="room-moderation",
    ),
    path(
        "rooms/<int:room_id>/members/<int:member_id>/confirm/<str:action>/",
        views.member_action_confirm,
        name="room-member-confirm",
    ),
    path(
        "rooms/<int:room_id>/members/<int:member_id>/kicked/",
        views.kicked_notice,
        name="room-member-kicked",
    ),
    path(
        "report/<str:target_type>/<int:target_id>/",
        views.report,
        name="report",
    ),
    path("appeals/", views.appeal_list, name="appeal-list"),
    path("appeals/new/", views.appeal, name="appeal"),
]
