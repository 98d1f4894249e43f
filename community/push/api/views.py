"""Push targets over REST: register, list and remove; the Web Push application key.

Views only translate: services register and remove, selectors list. A target registered
by a browser session is remembered in that session, so logging out removes it.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from community.push import senders
from community.push.selectors import PLATFORM_MODELS, device_payload, device_payloads
from community.push.services import SESSION_TARGETS_KEY, register_device, remove_device
from config.api.throttling import WriteScopedRateThrottle

PLATFORMS = sorted(PLATFORM_MODELS)


class SubscriptionKeysSerializer(serializers.Serializer):
    p256dh = serializers.CharField(max_length=200)
    auth = serializers.CharField(max_length=100)


class SubscriptionSerializer(serializers.Serializer):
    """``PushSubscription.toJSON()`` as the browser gives it."""

    endpoint = serializers.CharField(max_length=2000)
    keys = SubscriptionKeysSerializer()


class DeviceRegistrationSerializer(serializers.Serializer):
    platform = serializers.ChoiceField(choices=PLATFORMS)
    token = serializers.CharField(
        max_length=4096,
        required=False,
        help_text="FCM registration token or APNs device token (hex).",
    )
    subscription = SubscriptionSerializer(required=False, help_text="Web Push only.")
    environment = serializers.ChoiceField(
        choices=[senders.APNS_SANDBOX, senders.APNS_PRODUCTION],
        required=False,
        help_text="APNs only: the app's build (development builds use sandbox).",
    )
    browser = serializers.CharField(max_length=10, required=False, help_text="Web Push only.")
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)

    def validate(self, attrs):
        if attrs["platform"] == "web":
            if "subscription" not in attrs:
                raise serializers.ValidationError({"subscription": "This field is required."})
        elif not attrs.get("token"):
            raise serializers.ValidationError({"token": "This field is required."})
        return attrs


class DeviceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    platform = serializers.ChoiceField(choices=PLATFORMS)
    name = serializers.CharField()
    created_at = serializers.DateTimeField(allow_null=True)
    environment = serializers.CharField(required=False)
    browser = serializers.CharField(required=False)


class DeviceListView(APIView):
    """``GET``: my push targets, newest first. ``POST``: register this device or browser
    (again: refreshed; a token someone else registered moves to me)."""

    throttle_classes = [WriteScopedRateThrottle]
    throttle_scope = "writes"

    @extend_schema(responses=DeviceSerializer(many=True))
    def get(self, request):
        return Response(device_payloads(user_id=request.user.pk))

    @extend_schema(request=DeviceRegistrationSerializer, responses={201: DeviceSerializer})
    def post(self, request):
        data = DeviceRegistrationSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        subscription = values.get("subscription") or {}
        platform = values["platform"]
        device = register_device(
            user=request.user,
            platform=platform,
            token=subscription.get("endpoint") or values.get("token", ""),
            p256dh=subscription.get("keys", {}).get("p256dh", ""),
            auth=subscription.get("keys", {}).get("auth", ""),
            environment=values.get("environment", ""),
            browser=values.get("browser", ""),
            name=values.get("name", ""),
        )
        if isinstance(request.successful_authenticator, SessionAuthentication):
            # A browser's log-out removes what its session registered.
            _remember_in_session(request, platform, device.pk)
        return Response(device_payload(platform, device), status=status.HTTP_201_CREATED)


def _remember_in_session(request, platform: str, device_id: int) -> None:
    targets = [list(t) for t in request.session.get(SESSION_TARGETS_KEY, [])]
    if [platform, device_id] not in targets:
        request.session[SESSION_TARGETS_KEY] = [*targets, [platform, device_id]][-20:]


class DeviceDetailView(APIView):
    """``DELETE``: stop pushing to one of my targets."""

    @extend_schema(responses={204: None})
    def delete(self, request, platform: str, device_id: int):
        remove_device(user=request.user, platform=platform, device_id=device_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PushConfigView(APIView):
    """``GET``: what a client needs to subscribe: the VAPID application server key
    (empty when Web Push is not configured on this server)."""

    # Public and the same for everyone: no credentials are read (a stale token is no 401).
    authentication_classes = []
    permission_classes = [AllowAny]
    error_statuses = (429,)

    @extend_schema(
        responses=OpenApiResponse(
            inline_serializer(
                name="PushConfig", fields={"vapid_public_key": serializers.CharField()}
            )
        )
    )
    def get(self, request):
        return Response({"vapid_public_key": senders.vapid_public_key()})
