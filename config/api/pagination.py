from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination as BaseCursorPagination


class CursorPagination(BaseCursorPagination):
    """Stable cursor pages for every list; newest first unless a view says otherwise."""

    ordering = "-id"
    page_size = 30
    page_size_query_param = "limit"
    max_page_size = 100
    invalid_cursor_message = _("Invalid cursor.")

    def decode_cursor(self, request):
        # A garbled cursor is bad input (400), not a missing resource.
        try:
            return super().decode_cursor(request)
        except NotFound as exc:
            raise ValidationError({self.cursor_query_param: [str(exc.detail)]}) from exc
