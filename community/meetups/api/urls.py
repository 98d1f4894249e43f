"""API routes of meetups."""

from django.urls import path

from community.meetups.api import views

urlpatterns = [
    path("rooms/<int:room_id>/meetups/", views.RoomMeetupsView.as_view(), name="room-meetups"),
    path("meetups/<int:meetup_id>/", views.MeetupDetailView.as_view(), name="meetup-detail"),
    path("meetups/<int:meetup_id>/rsvp/", views.MeetupRsvpView.as_view(), name="meetup-rsvp"),
    path("meetups/<int:meetup_id>.ics", views.MeetupIcsView.as_view(), name="meetup-ics"),
]
