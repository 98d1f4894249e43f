"""A bare page that includes the chat, for the browser test (the real room page is
built by the rooms feature and includes the same template)."""

from django.contrib.staticfiles.views import serve
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template import engines
from django.urls import include, path

from community.rooms.models import Membership

PAGE = engines["django"].from_string(
    '{% extends "base.html" %}{% block content %}'
    '{% include "community/includes/chat.html" with room=membership.room membership=membership %}'
    "{% endblock %}"
)


def chat_page(request, room_id: int):
    membership = get_object_or_404(
        Membership.objects.select_related("room"), room_id=room_id, user=request.user
    )
    return HttpResponse(PAGE.render({"membership": membership}, request))


urlpatterns = [
    path("chat-test/<int:room_id>/", chat_page),
    path("static/<path:path>", serve, {"insecure": True}),
    path("", include("config.urls")),
]
