from django.urls import path

from community import moderation_views, views

urlpatterns = [
    path("", views.home, name="home"),
    # --- moderation ---
    path(
        "rooms/<int:room_id>/moderation/",
        moderation_views.room_moderation,
        name="room-moderation",
    ),
    path(
        "report/<str:target_type>/<int:target_id>/",
        moderation_views.report,
        name="report",
    ),
    path("appeals/", moderation_views.appeal_list, name="appeal-list"),
    path("appeals/new/", moderation_views.appeal, name="appeal"),
]
