"""Link preview API: a URL's card for composers, and the card's stored image."""

import logging

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.http import HttpResponseRedirect
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from community.links import selectors as links_selectors
from community.links import services as links_services
from community.links.models import LinkPreview
from community.media.api.views import file_response
from community.media.services import media_storage
from config.api.throttling import ScopedRateThrottle, UserRateThrottle
from config.errors import NotFoundError

logger = logging.getLogger(__name__)


class LinkPreviewImageSerializer(serializers.Serializer):
    url = serializers.CharField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)


class LinkPreviewSerializer(serializers.Serializer):
    """The card, as in a message payload's ``link_preview``: plain text, escape it."""

    url = serializers.CharField()
    domain = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    site_name = serializers.CharField()
    image = LinkPreviewImageSerializer(allow_null=True)


class PendingSerializer(serializers.Serializer):
    status = serializers.CharField()


class LinkPreviewView(APIView):
    """``GET /api/v1/link-preview/?url=``: the card a composer shows before sending."""

    throttle_classes = [UserRateThrottle, ScopedRateThrottle]
    throttle_scope = "link_preview"
    # 404: no card for the address (``no_preview``), whatever the reason.
    error_statuses = (400, 401, 403, 404, 429)

    @extend_schema(
        parameters=[OpenApiParameter("url", str, required=True, description="http(s) URL")],
        responses={200: LinkPreviewSerializer, 202: PendingSerializer},
    )
    def get(self, request):
        preview = links_services.preview_url(url=request.query_params.get("url", ""))
        payload = links_selectors.link_preview_payload(preview)
        if payload is not None:
            return Response(payload)
        if preview.status in (LinkPreview.Status.FETCHING, LinkPreview.Status.PENDING):
            return Response({"status": "pending"}, status=status.HTTP_202_ACCEPTED)
        # One answer for every reason (a private address, a timeout, no metadata): the
        # server's view of other networks is not for clients to map.
        raise NotFoundError(_("There is no preview for this address."), code="no_preview")


class LinkPreviewImageView(APIView):
    """The stored picture of a card (a WebP made here, never the site's own file):
    public by its unguessable key, like a public room's media."""

    permission_classes = [AllowAny]
    # A room full of links makes many of these; the API's user throttle would bite.
    throttle_classes: list = []

    @extend_schema(responses={(200, "image/webp"): bytes, 302: None})
    def get(self, request, key):
        name = links_selectors.image_name_for_key(key=key)
        if not name:
            raise NotFoundError(_("No such image."))
        storage = media_storage()
        if isinstance(storage, FileSystemStorage):
            try:
                response = file_response(request, storage, name, "image/webp")
            except FileNotFoundError as missing:
                logger.warning("link preview image missing from storage: %s", name)
                raise NotFoundError(_("No such image.")) from missing
        else:
            response = HttpResponseRedirect(
                storage.url(
                    name,
                    parameters={"ResponseContentType": "image/webp"},
                    expire=settings.MEDIA_SIGNED_URL_SECONDS,
                )
            )
        response["Cache-Control"] = "public, max-age=86400"
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
        return response
