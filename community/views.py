from django.shortcuts import render

from community.selectors.reactions import reaction_summaries
from community.selectors.rooms import listed_rooms


def home(request):
    rooms = list(listed_rooms()[:30])
    likes = reaction_summaries("room", [room.pk for room in rooms], request.user)
    for room in rooms:
        room.reaction_summary = likes[room.pk]
    return render(request, "community/home.html", {"rooms": rooms})
