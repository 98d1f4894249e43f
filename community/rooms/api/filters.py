"""Query filters of the room lists (django-filter forms; the selectors rank and filter)."""

import django_filters
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError

from community.rooms.models import Room


class RoomSearchFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        max_length=200, help_text=_("Text over title, description and hashtags.")
    )
    interest = django_filters.CharFilter(max_length=60, help_text=_("Interest slug."))
    language = django_filters.CharFilter(max_length=10, help_text=_("Room language code."))

    class Meta:
        model = Room
        fields = ["q", "interest", "language"]


def room_filters(request, filterset_class=RoomSearchFilter) -> dict:
    """The validated filter values, ``""`` when absent; bad ones are a 400."""
    filterset = filterset_class(request.query_params)
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    return {name: filterset.form.cleaned_data.get(name) or "" for name in filterset.filters}
