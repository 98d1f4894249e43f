from django.urls import path

from community.rooms.api import views

urlpatterns = [
    path("rooms/", views.RoomListView.as_view(), name="room-list"),
    path("rooms/trending/", views.TrendingRoomsView.as_view(), name="room-trending"),
    path("rooms/for-you/", views.ForYouRoomsView.as_view(), name="room-for-you"),
    path("rooms/<int:room_id>/", views.RoomDetailView.as_view(), name="room-detail"),
    path("rooms/<int:room_id>/join/", views.JoinRoomView.as_view(), name="room-join"),
    path("rooms/<int:room_id>/leave/", views.LeaveRoomView.as_view(), name="room-leave"),
    path(
        "rooms/<int:room_id>/transfer/",
        views.TransferOwnershipView.as_view(),
        name="room-transfer",
    ),
    path("rooms/<int:room_id>/similar/", views.SimilarRoomsView.as_view(), name="room-similar"),
    path("rooms/<int:room_id>/members/", views.MemberListView.as_view(), name="room-members"),
    path(
        "rooms/<int:room_id>/mentions/",
        views.MentionCandidatesView.as_view(),
        name="room-mention-candidates",
    ),
    path(
        "rooms/<int:room_id>/membership/",
        views.MyMembershipView.as_view(),
        name="room-my-membership",
    ),
    path(
        "rooms/<int:room_id>/members/<int:membership_id>/",
        views.MemberRoleView.as_view(),
        name="room-member",
    ),
    path(
        "rooms/<int:room_id>/members/<int:membership_id>/block/",
        views.MemberBlockView.as_view(),
        name="room-member-block",
    ),
    path("rooms/<int:room_id>/blocks/", views.MyMemberBlocksView.as_view(), name="room-blocks"),
    path(
        "rooms/<int:room_id>/requests/",
        views.JoinRequestListView.as_view(),
        name="room-join-requests",
    ),
    path(
        "rooms/<int:room_id>/requests/<int:request_id>/approve/",
        views.JoinRequestDecisionView.as_view(decision="approve"),
        name="room-join-request-approve",
    ),
    path(
        "rooms/<int:room_id>/requests/<int:request_id>/decline/",
        views.JoinRequestDecisionView.as_view(decision="decline"),
        name="room-join-request-decline",
    ),
    path("rooms/<int:room_id>/invites/", views.InviteListView.as_view(), name="room-invites"),
    path("invites/<str:code>/", views.InvitePreviewView.as_view(), name="invite-preview"),
    path("interests/", views.InterestListView.as_view(), name="interest-list"),
]
