from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views

from config.realtime import issue_socket_ticket
from profiles import services
from profiles.api.serializers import AccountSerializer, RegisterSerializer


def _posted_username(request) -> str:
    # The body may be any JSON (a list, a number): the serializer reports it as a 400.
    data = request.data if hasattr(request.data, "get") else {}
    return str(data.get("username", ""))[:150]


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"
    error_statuses = (400, 429)

    @extend_schema(
        request=RegisterSerializer,
        responses={201: AccountSerializer},
        examples=[
            OpenApiExample(
                "Register",
                value={"username": "mina", "password": "correct horse battery", "email": ""},
                request_only=True,
            )
        ],
    )
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
    error_statuses = (400, 401, 429)

    @extend_schema(
        examples=[
            OpenApiExample(
                "Log in",
                value={"username": "mina", "password": "correct horse battery"},
                request_only=True,
            )
        ]
    )
    def post(self, request, *args, **kwargs):
        username = _posted_username(request)
        ip = services.client_ip(request)
        services.check_login_allowed(username=username, ip=ip)
        response = super().post(request, *args, **kwargs)
        if response.status_code == status.HTTP_200_OK:
            services.clear_login_failures(username=username, ip=ip)
        return response

    def handle_exception(self, exc):
        if isinstance(exc, AuthenticationFailed):
            services.record_login_failure(
                username=_posted_username(self.request),
                ip=services.client_ip(self.request),
            )
        return super().handle_exception(exc)


class TokenRefreshView(jwt_views.TokenRefreshView):
    """A new ``access`` and a new ``refresh``; the old refresh token is revoked (rotation)."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"
    error_statuses = (400, 401, 429)


class LogoutView(jwt_views.TokenBlacklistView):
    """Revoke a refresh token (log-out on a mobile device)."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"
    error_statuses = (400, 401, 429)


class SocketTicketView(APIView):
    """A single-use ticket, valid 30 seconds, for opening a WebSocket with ``?ticket=``."""

    error_statuses = (401, 403, 429)

    @extend_schema(
        request=None,
        responses={
            201: inline_serializer(
                "SocketTicket",
                {
                    "ticket": serializers.CharField(),
                    "expires_in": serializers.IntegerField(help_text="Seconds."),
                },
            )
        },
        examples=[
            OpenApiExample(
                "Ticket",
                value={"ticket": "Zx8k...", "expires_in": 30},
                response_only=True,
                status_codes=["201"],
            )
        ],
    )
    def post(self, request):
        from config.realtime import TICKET_TTL_SECONDS

        ticket = issue_socket_ticket(user_id=request.user.pk)
        return Response({"ticket": ticket, "expires_in": TICKET_TTL_SECONDS}, status=201)
