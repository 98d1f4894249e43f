from django.urls import path

from community.api import reactions

urlpatterns: list = [
    path(
        "messages/<int:pk>/reactions/",
        reactions.MessageReactionsView.as_view(),
        name="message-reactions",
    ),
    path(
        "posts/<int:pk>/reactions/",
        reactions.StatusPostReactionsView.as_view(),
        name="status-post-reactions",
    ),
    path("rooms/<int:pk>/reactions/", reactions.RoomReactionsView.as_view(), name="room-reactions"),
]
