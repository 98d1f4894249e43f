"""Domain errors raised by services and selectors.

Views, serializers and consumers translate them: the API into
``{"error": {"code", "message", "fields"}}`` with the error's status, sockets into
an ``error`` event, pages into a message shown in place.
"""

from typing import Any


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, Any] | None = None,
        retry_after: int | None = None,
        details: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or {}
        self.retry_after = retry_after
        # Figures a client may show in its own words (the API adds ``details``).
        self.details = details


class PermissionDeniedError(DomainError):
    status = 403
    code = "permission_denied"


class NotFoundError(DomainError):
    status = 404
    code = "not_found"


class ConflictError(DomainError):
    status = 409
    code = "conflict"


class UnprocessableError(DomainError):
    status = 422
    code = "unprocessable"


class RateLimitedError(DomainError):
    status = 429
    code = "rate_limited"


class ServiceUnavailableError(DomainError):
    """Overload or a database that is (re)starting: try again shortly (503 + Retry-After)."""

    status = 503
    code = "service_unavailable"
