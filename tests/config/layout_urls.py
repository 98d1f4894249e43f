"""The site under /elsewhere/ (tests/config/test_layout_links.py)."""

from django.urls import include, path

urlpatterns = [path("elsewhere/", include("config.urls"))]
