"""Request checks that apply to every view, page and API alike."""

from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults

from config.api.errors import API_PREFIX, error_body

NUL = "\x00"
# Multipart bodies are left to the views: parsing them here would pick the upload
# handlers before a view sets its size limit (community/media/api/views.py). Their text
# fields go through Django forms or DRF serializers, which refuse NUL themselves.
_FORM_TYPE = "application/x-www-form-urlencoded"


def _has_nul(query) -> bool:
    return any(NUL in key or any(NUL in value for value in query.getlist(key)) for key in query)


class RejectNulBytesMiddleware:
    """A NUL character (``\\x00``, ``%00`` once decoded) in the path, a query-string key
    or value, or a URL-encoded form field answers 400 before any view runs.

    PostgreSQL cannot store or even compare text with NUL in it, so such input reached
    the database as a 500. Nothing legitimate sends it. (JSON bodies go through DRF
    serializers, whose string fields already refuse it.)
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self._carries_nul(request):
            return self._bad_request(request)
        return self.get_response(request)

    @staticmethod
    def _carries_nul(request) -> bool:
        if NUL in request.path_info or _has_nul(request.GET):
            return True
        if request.method in ("POST", "PUT", "PATCH") and request.content_type == _FORM_TYPE:
            return _has_nul(request.POST)
        return False

    @staticmethod
    def _bad_request(request):
        if request.path.startswith(API_PREFIX):
            return JsonResponse(
                error_body("bad_request", _("The request contains a NUL character.")),
                status=400,
            )
        return defaults.bad_request(request, None)
