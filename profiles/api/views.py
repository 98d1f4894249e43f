from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views

from config.realtime import issue_socket_ticket
from profiles import services
from profiles.api.serializers import AccountSerializer, RegisterSerializer


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(request=RegisterSerializer, responses={201: AccountSerializer})
    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.register_user(
            username=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
            email=serializer.validated_data.get("email", ""),
        )
        return Response(AccountSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenObtainView(jwt_views.TokenObtainPairView):
    """Username and password for ``access`` and ``refresh`` JWTs, with the log-in throttle."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    def post(self, request, *args, **kwargs):
        username = str(request.data.get("username", ""))[:150]
        ip = services.client_ip(request)
        services.check_login_allowed(username=username, ip=ip)
        response = super().post(request, *args, **kwargs)
        if response.status_code == status.HTTP_200_OK:
            services.clear_login_failures(username=username, ip=ip)
        return response

    def handle_exception(self, exc):
        if isinstance(exc, AuthenticationFailed):
            services.record_login_failure(
                username=str(self.request.data.get("username", ""))[:150],
                ip=services.client_ip(self.request),
            )
        return super().handle_exception(exc)


class TokenRefreshView(jwt_views.TokenRefreshView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"


class LogoutView(jwt_views.TokenBlacklistView):
    """Revoke a refresh token (log-out on a mobile device)."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"


class SocketTicketView(APIView):
    """A single-use ticket, valid 30 seconds, for opening a WebSocket with ``?ticket=``."""

    @extend_schema(
        request=None,
        responses={
            201: {
                "type": "object",
                "properties": {"ticket": {"type": "string"}, "expires_in": {"type": "integer"}},
            }
        },
    )
    def post(self, request):
        from config.realtime import TICKET_TTL_SECONDS

        ticket = issue_socket_ticket(user_id=request.user.pk)
        return Response({"ticket": ticket, "expires_in": TICKET_TTL_SECONDS}, status=201)
