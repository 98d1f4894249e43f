from django.shortcuts import render

from community.selectors.rooms import listed_rooms


def home(request):
    rooms = listed_rooms()[:30]
    return render(request, "community/home.html", {"rooms": rooms})
