"""Web pages of rooms: discovery, a room, joining, members, invites."""

from django.urls import path

from community.rooms import views

urlpatterns = [
    # "/" is Chats for signed-in people (community.chat.urls); Discover lives here too.
    path("discover/", views.home, name="discover"),
    path("rooms/", views.room_search, name="room-search"),
    path("rooms/new/", views.room_create, name="room-create"),
    # "rooms/<id>/" is the chat screen for members (community.chat.urls), this page for
    # anyone else; members open it from the chat's menu.
    path("rooms/<int:room_id>/info/", views.room_detail, name="room-info"),
    path("rooms/<int:room_id>/edit/", views.room_edit, name="room-edit"),
    path("rooms/<int:room_id>/members/", views.room_members, name="room-members"),
    path(
        "rooms/<int:room_id>/members/<int:membership_id>/<slug:action>/",
        views.member_action,
        name="room-member-action",
    ),
    path("rooms/<int:room_id>/join/", views.room_join, name="room-join"),
    path("rooms/<int:room_id>/join/cancel/", views.cancel_request, name="room-join-cancel"),
    path("rooms/<int:room_id>/leave/", views.room_leave, name="room-leave"),
    path("rooms/<int:room_id>/me/", views.my_membership, name="room-me"),
    path("rooms/<int:room_id>/requests/", views.room_requests, name="room-requests"),
    path("rooms/<int:room_id>/invite/", views.room_invites, name="room-invite"),
    path("invite/<str:code>/", views.invite_page, name="invite"),
]
