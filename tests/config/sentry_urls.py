"""A page that fails while it holds a member's names (tests/config/test_sentry.py)."""

from django.urls import path

from community.rooms.models import Membership


def failing_room_page(request):
    membership = Membership.objects.select_related("user").get(user=request.user)
    handle, nickname, email = membership.user.username, membership.nickname, request.user.email
    raise RuntimeError(f"room page failed for membership {membership.pk}") from ValueError(
        len(handle + nickname + email)
    )


urlpatterns = [path("failing-room-page/", failing_room_page)]
