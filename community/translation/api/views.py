"""``POST /api/v1/messages/{id}/translation/``: a message in the reader's language."""

from dataclasses import asdict

from django.utils.translation import get_language
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from community.translation.services import TARGET_MAX_LENGTH, translate_message
from config.api.schema import ErrorResponseSerializer
from config.api.throttling import UserRateThrottle


class TranslationRequestSerializer(serializers.Serializer):
    target = serializers.CharField(
        max_length=TARGET_MAX_LENGTH,
        required=False,
        allow_blank=True,
        help_text="A language code (ko, ja, en, zh-hans…); default: the reader's language.",
    )


TranslationSerializer = inline_serializer(
    name="MessageTranslation",
    fields={
        "message_id": serializers.IntegerField(),
        "language": serializers.CharField(help_text="The language it is rendered in."),
        "source_language": serializers.CharField(
            allow_null=True, help_text="The language the message was found in; null: unsure."
        ),
        "text": serializers.CharField(help_text="Plain text: never render it as HTML."),
        "engine": serializers.CharField(
            help_text="The engine that rendered it; empty when already in that language."
        ),
        "cached": serializers.BooleanField(),
    },
)


class MessageTranslationView(APIView):
    """Translate a message the caller can read. Cached per message and language (an edit
    or removal forgets the cache); 404 ``translation_off`` when no engine is configured,
    503 ``translation_unavailable`` when it fails; 429 past ``TRANSLATION_RATE``."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [UserRateThrottle]

    @extend_schema(
        request=TranslationRequestSerializer,
        responses={
            200: TranslationSerializer,
            503: OpenApiResponse(
                ErrorResponseSerializer,
                description="translation_unavailable: the engine failed; see Retry-After.",
            ),
        },
    )
    def post(self, request, message_id: int):
        data = TranslationRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        translation = translate_message(
            user=request.user,
            message_id=message_id,
            target=data.validated_data.get("target") or get_language(),
        )
        return Response(asdict(translation))
