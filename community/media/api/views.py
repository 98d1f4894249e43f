"""Media API: uploads, their state, the permission-checked file view, media messages."""

import logging
import re

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from community.media import selectors as media_selectors
from community.media import services as media_services
from config.api.throttling import ScopedRateThrottle, UserRateThrottle
from config.errors import NotFoundError, PermissionDeniedError

logger = logging.getLogger(__name__)


class UploadSizeLimitHandler(FileUploadHandler):
    """Stops reading an upload once it passes the largest limit (video's), so an
    oversized body is never written to disk; the exact per-kind limit is checked once
    the bytes are sniffed."""

    def __init__(self, request=None):
        super().__init__(request)
        self.limit = max(settings.MEDIA_IMAGE_MAX_BYTES, settings.MEDIA_VIDEO_MAX_BYTES)
        self.received = 0
        self.exceeded = False

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.exceeded = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None


def limited_upload_data(request):
    """``request.data`` read under :class:`UploadSizeLimitHandler` (413 past the limit)."""
    handler = UploadSizeLimitHandler(request._request)
    request._request.upload_handlers.insert(0, handler)
    data = request.data
    if handler.exceeded:
        raise media_services.MediaTooLargeError(
            _("The file is too large: uploads are limited to %(size)s.")
            % {"size": filesizeformat(handler.limit)},
            fields={"file": [_("Too large.")]},
        )
    return data


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False, use_url=False)


class UploadListView(APIView):
    """``POST`` multipart ``file``: the asset, ``pending`` until processed (poll it or
    use it right away: messages update themselves when it is ready)."""

    parser_classes = [MultiPartParser, FormParser]
    throttle_classes = [UserRateThrottle, ScopedRateThrottle]
    throttle_scope = "uploads"

    @extend_schema(request=UploadSerializer, responses={201: dict})
    def post(self, request):
        serializer = UploadSerializer(data=limited_upload_data(request))
        serializer.is_valid(raise_exception=True)
        asset = media_services.create_media_asset(
            owner=request.user, file=serializer.validated_data["file"]
        )
        asset.refresh_from_db()  # eager processing may already have finished it
        return Response(media_selectors.media_payload(asset), status=status.HTTP_201_CREATED)


class UploadDetailView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request, asset_id: int):
        asset = media_selectors.asset_for_owner(user=request.user, asset_id=asset_id)
        if asset is None:
            raise NotFoundError(_("No such upload."))
        return Response(media_selectors.media_payload(asset))


class UseUploadSerializer(serializers.Serializer):
    target = serializers.ChoiceField(choices=media_services.MediaUse.ALL)
    # The room (room_cover, member_avatar) or status post (status_post) the image goes to.
    target_id = serializers.IntegerField(required=False, allow_null=True, default=None)


class UploadUseView(APIView):
    """``POST {"target": "avatar"|"background"|"room_cover"|"status_post"|"member_avatar",
    "target_id"}``: use an uploaded image there; answers the media payload that target
    now shows."""

    @extend_schema(request=UseUploadSerializer, responses={200: dict})
    def post(self, request, asset_id: int):
        data = UseUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        asset = media_services.use_media_asset(
            user=request.user,
            asset_id=asset_id,
            target=data.validated_data["target"],
            target_id=data.validated_data["target_id"],
        )
        return Response(
            {"target": data.validated_data["target"], "media": media_selectors.media_payload(asset)}
        )


_SINGLE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_RANGE_CHUNK = 64 * 1024


def _read_range(handle, length: int):
    while length > 0:
        chunk = handle.read(min(_RANGE_CHUNK, length))
        if not chunk:
            return
        length -= len(chunk)
        yield chunk


async def _aread_range(handle, length: int):
    # Under ASGI Django would read a sync iterator into one list before sending it (a
    # whole video in memory per request); this reads chunk by chunk off the event loop.
    read = sync_to_async(handle.read, thread_sensitive=False)
    while length > 0:
        chunk = await read(min(_RANGE_CHUNK, length))
        if not chunk:
            return
        length -= len(chunk)
        yield chunk


def _stream(request, handle, length: int, **kwargs) -> StreamingHttpResponse:
    served_over_asgi = isinstance(getattr(request, "_request", request), ASGIRequest)
    chunks = _aread_range(handle, length) if served_over_asgi else _read_range(handle, length)
    response = StreamingHttpResponse(chunks, **kwargs)
    response._resource_closers.append(handle.close)
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    return response


def file_response(request, storage, name: str, content_type: str):
    """Stream a stored file, honouring a single ``Range`` (video seeking needs it;
    Safari will not play a video without it). Several ranges get the whole file."""
    size = storage.size(name)
    match = _SINGLE_RANGE.match(request.headers.get("Range", "").strip())
    if not match or not any(match.groups()):
        return _stream(request, storage.open(name, "rb"), size, content_type=content_type)
    first, last = match.groups()
    if first:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    else:  # "bytes=-N": the last N bytes
        start, end = max(0, size - int(last)), size - 1
    if start >= size or start > end:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    handle = storage.open(name, "rb")
    handle.seek(start)
    response = _stream(request, handle, end - start + 1, status=206, content_type=content_type)
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response


class MediaFileView(APIView):
    """One stored form of an asset: streamed from local disk, or a redirect to a signed,
    expiring storage URL (S3). A private room's media needs a valid URL signature or a
    viewer who is a member."""

    permission_classes = [AllowAny]
    # A room full of pictures makes many of these; the API's user throttle would bite.
    throttle_classes: list = []

    @extend_schema(responses={(200, "application/octet-stream"): bytes, 302: None})
    def get(self, request, key, variant: str):
        asset = media_selectors.asset_by_key(key=key)
        if asset is None:
            raise NotFoundError(_("No such media."))
        signed = media_selectors.signature_is_valid(
            key=key,
            variant=variant,
            expires=request.query_params.get("expires"),
            signature=request.query_params.get("signature"),
        )
        if not signed and not media_selectors.can_view_asset(user=request.user, asset=asset):
            raise PermissionDeniedError(_("This media is only visible to the room's members."))
        found = media_selectors.variant_file(asset, variant)
        if found is None:
            raise NotFoundError(_("This media is not available (yet)."))
        name, content_type = found
        storage = media_services.media_storage()
        cache_control = (
            "private, max-age=3600"
            if media_selectors.is_restricted(asset)
            else "public, max-age=86400"
        )
        if isinstance(storage, FileSystemStorage):
            try:
                response = file_response(request, storage, name, content_type)
            except FileNotFoundError as missing:
                # The row names a file the storage no longer has (deleted by hand, a
                # restore without media): a 404 like any missing media, logged.
                logger.warning("media file missing from storage: %s", name)
                raise NotFoundError(_("This media is not available.")) from missing
        else:
            response = HttpResponseRedirect(
                storage.url(
                    name,
                    parameters={"ResponseContentType": content_type},
                    expire=settings.MEDIA_SIGNED_URL_SECONDS,
                )
            )
        response["Cache-Control"] = cache_control
        response["X-Content-Type-Options"] = "nosniff"
        # Opened on its own, a media URL is never a document that could run anything.
        response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
        return response
