"""API routes of polls."""

from django.urls import path

from community.polls.api import views

urlpatterns = [
    path("rooms/<int:room_id>/polls/", views.RoomPollsView.as_view(), name="room-polls"),
    path("polls/<int:poll_id>/", views.PollDetailView.as_view(), name="poll-detail"),
    path("polls/<int:poll_id>/vote/", views.PollVoteView.as_view(), name="poll-vote"),
    path("polls/<int:poll_id>/close/", views.PollCloseView.as_view(), name="poll-close"),
    path("polls/<int:poll_id>/voters/", views.PollVotersView.as_view(), name="poll-voters"),
]
