"""The media payload as a read-only serializer field, for payloads that embed an image
(profiles, status posts, rooms), documented in the OpenAPI schema."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from community.media.selectors import media_payload

# The media payload (community.media.selectors.media_payload): state, placeholder and
# every rendition, for clients that show the placeholder while an image is processed.
MEDIA_PAYLOAD_SCHEMA = {
    "type": "object",
    "nullable": True,
    "properties": {
        "id": {"type": "integer"},
        "kind": {"type": "string", "enum": ["image", "video"]},
        "state": {"type": "string", "enum": ["pending", "processing", "ready", "failed"]},
        "failure_reason": {"type": "string"},
        "content_type": {"type": "string"},
        "width": {"type": "integer", "nullable": True},
        "height": {"type": "integer", "nullable": True},
        "duration": {"type": "number", "nullable": True},
        "is_animated": {"type": "boolean"},
        "placeholder": {"type": "string"},
        "url": {"type": "string", "nullable": True},
        "poster_url": {"type": "string", "nullable": True},
        "thumbnails": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {
                    "url": {"type": "string"},
                    "width": {"type": "integer"},
                    "height": {"type": "integer"},
                },
            },
        },
    },
}


@extend_schema_field(MEDIA_PAYLOAD_SCHEMA)
class MediaPayloadField(serializers.Field):
    """An image's media payload, or null (read-only)."""

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, asset):
        return media_payload(asset)
