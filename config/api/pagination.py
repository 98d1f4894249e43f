from rest_framework.pagination import CursorPagination as BaseCursorPagination


class CursorPagination(BaseCursorPagination):
    """Stable cursor pages for every list; newest first unless a view says otherwise."""

    ordering = "-id"
    page_size = 30
    page_size_query_param = "limit"
    max_page_size = 100
