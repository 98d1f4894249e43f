"""OpenAPI generation: every operation documents the API's one error shape.

``MoimAutoSchema`` adds the shared ``ErrorResponse`` component to each operation for
the statuses it can answer with, so no view has to repeat them: 400 when it takes a
body or query parameters, 401/403 when it authenticates, 404 when its path (or, for
a signed-in caller, its body) names an object, 409/422 for writes (conflicts, refused
states), 415 when it takes a body, 429 everywhere (throttles). A view may set
``error_statuses`` instead.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

ERROR_EXAMPLES = {
    "400": ("invalid", "Invalid input.", {"nickname": ["This field is required."]}),
    "401": ("not_authenticated", "Authentication credentials were not provided.", {}),
    "403": ("permission_denied", "Only members can post in this room.", {}),
    "404": ("not_found", "Not found.", {}),
    "409": ("conflict", "This request conflicts with the current state.", {}),
    "415": ("unsupported_media_type", "Unsupported media type in request.", {}),
    "422": ("unprocessable", "Insufficient funds.", {}),
    "429": ("throttled", "Request was throttled. Expected available in 42 seconds.", {}),
}
ERROR_DESCRIPTIONS = {
    "400": _("Invalid input; `fields` maps each field to its messages."),
    "401": _("Missing, invalid or expired credentials."),
    "403": _("Authenticated, but not allowed (or a CSRF failure on a session)."),
    "404": _("No such object, or not visible to the caller."),
    "409": _("Conflicts with the current state (e.g. already a member)."),
    "415": _("Unsupported Content-Type, or an unsupported kind of uploaded file."),
    "422": _("Well-formed, but refused (e.g. insufficient funds)."),
    "429": _("Throttled; the `Retry-After` header says how many seconds to wait."),
}
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text=_("Stable, machine-readable error code."))
    message = serializers.CharField(help_text=_("Human-readable, translated message."))
    fields = serializers.DictField(
        help_text=_("Per-field messages for invalid input; empty otherwise.")
    )
    details = serializers.DictField(
        required=False,
        help_text=_(
            "Figures behind some errors, for a client to show in its own words (a payout "
            "refused while earnings are in the hold: available, held, held_until, "
            "available_on, currency; amounts in minor units)."
        ),
    )


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Invalid input",
            value={
                "error": {
                    "code": "invalid",
                    "message": "Invalid input.",
                    "fields": {"nickname": ["This field is required."]},
                }
            },
        )
    ]
)
class ErrorResponseSerializer(serializers.Serializer):
    """Every 4xx answer of the API."""

    error = ErrorDetailSerializer()


def _error_example(status_code: str) -> dict:
    code, message, fields = ERROR_EXAMPLES[status_code]
    return {"value": {"error": {"code": code, "message": message, "fields": fields}}}


class MoimAutoSchema(AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        for status_code in sorted(self._error_statuses(operation)):
            if status_code in responses:
                continue
            response = self._get_response_for_code(ErrorResponseSerializer, status_code)
            response["description"] = str(ERROR_DESCRIPTIONS[status_code])
            for media in response.get("content", {}).values():
                media["examples"] = {"Error": _error_example(status_code)}
            if status_code == "429":
                response["headers"] = {
                    "Retry-After": {
                        "schema": {"type": "integer"},
                        "description": str(_("Seconds to wait before retrying.")),
                    }
                }
            responses[status_code] = response
        return operation

    def get_tags(self) -> list[str]:
        # One tag per resource: the first segment after the version (rooms, auth, tips...).
        segments = [part for part in self.path.split("/") if part]
        if len(segments) > 2 and segments[0] == "api":
            return [segments[2]]
        return super().get_tags()

    def _error_statuses(self, operation: dict) -> set[str]:
        declared = getattr(self.view, "error_statuses", None)
        if declared is not None:
            return {str(code) for code in declared}
        statuses = {"429"}
        parameters = operation.get("parameters", [])
        if "requestBody" in operation or self.method in UNSAFE_METHODS:
            statuses.add("400")
        if "requestBody" in operation:
            statuses.add("415")
        if any(parameter["in"] == "query" for parameter in parameters):
            statuses.add("400")
        if self.view.authentication_classes:
            statuses |= {"401", "403"}
        # Objects are named by the path, or by ids in a request body (a tip's message).
        if any(parameter["in"] == "path" for parameter in parameters):
            statuses.add("404")
        if "requestBody" in operation and self.view.authentication_classes:
            statuses.add("404")
        if self.method in UNSAFE_METHODS and self.view.authentication_classes:
            statuses |= {"409", "422"}
        return statuses
