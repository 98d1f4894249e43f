"""One error shape for the whole API: ``{"error": {"code", "message", "fields"}}``.

DRF views reach it through ``exception_handler``; requests that never reach a DRF view
(an unknown ``/api/`` URL, a crash, a suspicious request) through the ``api_*`` views
below, wired as Django's ``handler400`` / ``handler403`` / ``handler404`` / ``handler500``.

Overload is never a 500: a database that is down or restarting, a pool with no free
connection (``PoolTimeout``), "too many connections", or too many password hashes at
once answer 503 with ``Retry-After``, on pages and in the API alike (``unavailable``).
"""

import sys

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.template import TemplateDoesNotExist, loader
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import DomainError, ServiceUnavailableError

API_PREFIX = "/api/"
# How long a client should wait before retrying after a 503.
RETRY_AFTER_SECONDS = 5


def error_body(
    code: str, message: str, fields: dict | None = None, details: dict | None = None
) -> dict:
    body = {"code": code, "message": message, "fields": fields or {}}
    if details:
        body["details"] = details
    return {"error": body}


def _flatten(detail) -> dict:
    """DRF's nested ValidationError detail as ``{field: [messages]}``."""
    if isinstance(detail, dict):
        return {
            key: [str(item) for item in value] if isinstance(value, list) else [str(value)]
            for key, value in detail.items()
        }
    return {}


def _message_and_code(exc: exceptions.APIException) -> tuple[str, str]:
    detail = exc.detail
    # simplejwt's token errors carry {"detail", "code", "messages"} rather than a string.
    if isinstance(detail, dict):
        code = str(detail.get("code") or exc.default_code)
        return str(detail.get("detail") or exc.default_detail), code
    if isinstance(detail, list):
        return " ".join(str(item) for item in detail), str(exc.default_code)
    return str(detail), str(getattr(detail, "code", None) or exc.default_code)


def unavailable(exc: BaseException | None) -> ServiceUnavailableError | None:
    """The 503 to answer with when ``exc`` means "overloaded, try again shortly"."""
    if isinstance(exc, ServiceUnavailableError):
        return exc
    # Django wraps psycopg's errors: PoolTimeout, a refused or dropped connection,
    # "too many clients", a server shutting down or starting up, a lock timeout.
    if isinstance(exc, (OperationalError, InterfaceError)):
        return ServiceUnavailableError(
            _("The service is busy. Please try again in a few seconds."),
            retry_after=RETRY_AFTER_SECONDS,
        )
    return None


def exception_handler(exc, context):
    exc = unavailable(exc) or exc
    if isinstance(exc, DomainError):
        response = Response(
            error_body(exc.code, exc.message, exc.fields, exc.details), status=exc.status
        )
        if exc.retry_after is not None:
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {}
        message = "; ".join(exc.messages) if not fields else _("Invalid input.")
        return Response(error_body("invalid", message, fields), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    # Sets Retry-After on Throttled and WWW-Authenticate on 401.
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        if isinstance(exc.detail, list):
            message = " ".join(str(item) for item in exc.detail)
        else:
            non_field = fields.pop("non_field_errors", None)
            message = " ".join(non_field) if non_field else _("Invalid input.")
            if non_field:
                fields["non_field_errors"] = non_field
        response.data = error_body("invalid", message, fields)
    else:
        message, code = _message_and_code(exc)
        response.data = error_body(code, message)
    return response


def api_bad_request(request, exception=None):
    if request.path.startswith(API_PREFIX):
        return JsonResponse(
            error_body("bad_request", _("The request could not be understood.")),
            status=status.HTTP_400_BAD_REQUEST,
        )
    return defaults.bad_request(request, exception)


def api_permission_denied(request, exception=None):
    if request.path.startswith(API_PREFIX):
        return JsonResponse(
            error_body("permission_denied", _("You do not have permission to do that.")),
            status=status.HTTP_403_FORBIDDEN,
        )
    return defaults.permission_denied(request, exception)


def api_page_not_found(request, exception=None):
    if request.path.startswith(API_PREFIX):
        return JsonResponse(
            error_body("not_found", _("There is no such API endpoint.")),
            status=status.HTTP_404_NOT_FOUND,
        )
    return defaults.page_not_found(request, exception)


def _unavailable_response(request, error: ServiceUnavailableError):
    if request.path.startswith(API_PREFIX):
        response = JsonResponse(
            error_body(error.code, error.message), status=status.HTTP_503_SERVICE_UNAVAILABLE
        )
    else:
        # Like Django's 500 page: no request context, which could need the database.
        try:
            body = loader.get_template("503.html").render()
        except TemplateDoesNotExist:
            body = error.message
        response = HttpResponse(body, status=status.HTTP_503_SERVICE_UNAVAILABLE)
    response["Retry-After"] = str(error.retry_after or RETRY_AFTER_SECONDS)
    return response


def api_server_error(request):
    # Django calls this while handling the uncaught exception, from any view or
    # middleware: overload becomes a 503 here, whatever raised it.
    error = unavailable(sys.exc_info()[1])
    if error is not None:
        return _unavailable_response(request, error)
    if request.path.startswith(API_PREFIX):
        return JsonResponse(
            error_body("server_error", _("Something went wrong on our side.")),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    return defaults.server_error(request)
