from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import update_session_auth_hash
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from community.reactions.selectors import with_reaction_summaries
from config.api.throttling import ScopedRateThrottle, UserRateThrottle
from config.currencies import currency_for_request
from config.errors import DomainError, PermissionDeniedError, RateLimitedError
from config.realtime import TICKET_TTL_SECONDS, issue_socket_ticket
from profiles import login_policy, selectors, services
from profiles.api.serializers import (
    AccountDeleteSerializer,
    AccountSerializer,
    DetailSerializer,
    EmailChangeSerializer,
    EmailVerifiedSerializer,
    EmailVerifySerializer,
    LogoutSerializer,
    MeSerializer,
    MeUpdateSerializer,
    PasswordChangeSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetRequestSerializer,
    PersonSerializer,
    PublicProfileSerializer,
    RegisterSerializer,
    StatusPostCreateSerializer,
    StatusPostSerializer,
    StatusPostUpdateSerializer,
    SuggestionSerializer,
    TokenPairSerializer,
    feed_item_data,
)
from profiles.export import build_export
from profiles.models import Profile, StatusPost
from profiles.tokens import token_pair_for


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
        data = serializer.validated_data
        user = services.register_user(
            username=data["username"],
            password=data["password"],
            email=data.get("email", ""),
            timezone=data.get("timezone") or "UTC",
            currency=data.get("currency") or currency_for_request(request),
        )
        return Response(AccountSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenObtainView(jwt_views.TokenObtainPairView):
    """Username and password for ``access`` and ``refresh`` JWTs.

    Failed tries count toward the one log-in lockout (django-axes,
    ``profiles/login_policy.py``); a locked-out username and address get 429.
    """

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
        return super().post(request, *args, **kwargs)

    def handle_exception(self, exc):
        if isinstance(exc, AuthenticationFailed) and login_policy.is_locked_out(self.request):
            exc = RateLimitedError(
                login_policy.lockout_message(),
                retry_after=settings.LOGIN_FAILURE_WINDOW_SECONDS,
            )
        return super().handle_exception(exc)


class TokenRefreshView(jwt_views.TokenRefreshView):
    """A new ``access`` and a new ``refresh``; the old refresh token is revoked (rotation)."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"
    error_statuses = (400, 401, 429)


class LogoutView(jwt_views.TokenBlacklistView):
    """Revoke a refresh token (log-out on a mobile device); with ``push_token``, that
    device's push target of this account is removed too."""

    serializer_class = LogoutSerializer
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"
    error_statuses = (400, 401, 429)

    @extend_schema(request=LogoutSerializer, responses={200: None})
    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except TokenError as exc:
            raise InvalidToken(exc.args[0]) from exc
        data = serializer.validated_data
        if data["push_token"] and data["user_id"]:
            services.forget_push_device(user_id=data["user_id"], push_token=data["push_token"])
        return Response({}, status=status.HTTP_200_OK)


class LogoutEverywhereView(APIView):
    """End every session, API token and open socket of mine, this client's included."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"
    error_statuses = (401, 429)

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        services.log_out_everywhere(user=request.user)
        if request.session.session_key:  # a browser's session ends too
            request.session.flush()
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeView(APIView):
    """Change my password. Every other session and API token ends; this client gets a
    new token pair (a browser session carries on)."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"
    error_statuses = (400, 401, 429)

    @extend_schema(request=PasswordChangeSerializer, responses={200: TokenPairSerializer})
    def post(self, request):
        serializer = PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not login_policy.check_current_password(
            request, request.user, serializer.validated_data["old_password"]
        ):
            raise DjangoValidationError(
                {"old_password": [_("Your old password was entered incorrectly.")]}
            )
        user = services.set_password(
            user=request.user, password=serializer.validated_data["new_password"]
        )
        if request.session.session_key:
            update_session_auth_hash(request._request, user)
        return Response(token_pair_for(user))


# --- Account recovery: password reset and email verification (profiles/recovery.py) -----

RESET_SENT = gettext_lazy(
    "If an account uses this address, we sent it a link to choose a new password."
)


class PasswordResetRequestView(APIView):
    """Email a password reset link to the accounts using ``email``.

    The answer is the same (202) whether or not an account uses the address. At most
    ``ACCOUNT_EMAILS_PER_ADDRESS`` emails per address and ``ACCOUNT_EMAILS_PER_IP``
    requests per client an hour (429 beyond, also for unknown addresses). The link opens
    ``/accounts/password/reset/<uid>/<token>/``; an app can take ``uid`` and ``token``
    from it and call ``auth/password-reset/confirm/``."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"
    error_statuses = (400, 429)

    @extend_schema(
        request=PasswordResetRequestSerializer,
        responses={202: DetailSerializer},
        examples=[
            OpenApiExample("Request", value={"email": "mina@example.com"}, request_only=True)
        ],
    )
    def post(self, request):
        serializer = PasswordResetRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.request_password_reset(
            email=serializer.validated_data["email"], ip=services.client_ip(request)
        )
        return Response({"detail": str(RESET_SENT)}, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmView(APIView):
    """Set a new password with the ``uid`` and ``token`` of a reset link. Every session
    and API token of the account ends; the address the link went to counts as verified.
    Log in again with the new password (``auth/token/``)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"
    error_statuses = (400, 429)

    @extend_schema(request=PasswordResetConfirmSerializer, responses={204: None})
    def post(self, request):
        serializer = PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        services.reset_password_from_link(
            uid=data["uid"], token=data["token"], password=data["new_password"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class EmailVerifyView(APIView):
    """Verify an address with the ``token`` of a verification link (signed in or not)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"
    error_statuses = (400, 429)

    @extend_schema(request=EmailVerifySerializer, responses={200: EmailVerifiedSerializer})
    def post(self, request):
        serializer = EmailVerifySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.verify_email(token=serializer.validated_data["token"])
        return Response({"email": user.email, "email_verified": user.email_verified})


class MeEmailView(APIView):
    """Change my email address (blank removes it), confirmed with my password. The new
    address is unverified until its link is used; a link is sent to it (429 past the
    email limits)."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"
    error_statuses = (400, 401, 429)

    @extend_schema(request=EmailChangeSerializer, responses={200: EmailVerifiedSerializer})
    def post(self, request):
        serializer = EmailChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not login_policy.check_current_password(
            request, request.user, serializer.validated_data["password"]
        ):
            raise DjangoValidationError({"password": [_("Your password was entered incorrectly.")]})
        user = services.change_email(
            user=request.user,
            email=serializer.validated_data["email"],
            ip=services.client_ip(request),
        )
        return Response({"email": user.email, "email_verified": user.email_verified})


class MeEmailVerificationView(APIView):
    """Send a new verification link to my address (400 ``no_email``, 409
    ``already_verified``, 429 past the email limits)."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"
    error_statuses = (400, 401, 409, 429)

    @extend_schema(request=None, responses={202: DetailSerializer})
    def post(self, request):
        services.send_email_verification(user=request.user, ip=services.client_ip(request))
        return Response(
            {"detail": _("We sent a link to %(email)s.") % {"email": request.user.email}},
            status=status.HTTP_202_ACCEPTED,
        )


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

        ticket = issue_socket_ticket(user_id=request.user.pk)
        return Response({"ticket": ticket, "expires_in": TICKET_TTL_SECONDS}, status=201)


# --- Me, profiles, posts, follows, blocks, the friends feed -------------------------------


def _my_profile(user):
    return (
        Profile.objects.select_related("user", "avatar_media", "background_media")
        .prefetch_related("interests")
        .get(user=user)
    )


class MeView(APIView):
    """The signed-in user's own profile and preferences."""

    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        return Response(MeSerializer(_my_profile(request.user)).data)

    @extend_schema(request=MeUpdateSerializer, responses=MeSerializer)
    def patch(self, request):
        serializer = MeUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        services.update_profile(
            user=request.user,
            handle=data.get("handle"),
            display_name=data.get("display_name"),
            bio=data.get("bio"),
            status_message=data.get("status_message"),
            interest_slugs=data.get("interests"),
            languages=data.get("languages"),
            locale=data.get("locale"),
            timezone=data.get("timezone"),
            currency=data.get("currency"),
            discoverable=data.get("discoverable"),
            avatar=data.get("avatar"),
            background=data.get("background"),
            remove_avatar=data.get("remove_avatar", False),
            remove_background=data.get("remove_background", False),
        )
        return Response(MeSerializer(_my_profile(request.user)).data)

    @extend_schema(request=AccountDeleteSerializer, responses={204: None})
    def delete(self, request):
        """Delete my account; ``messages`` is ``anonymise`` or ``delete``."""
        serializer = AccountDeleteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.delete_account(
            user=request.user,
            password=serializer.validated_data["password"],
            messages=serializer.validated_data["messages"],
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExportThrottle(UserRateThrottle):
    scope = "export"
    rate = "10/hour"


class MeExportView(APIView):
    """Everything Moim holds about me, as one JSON document."""

    throttle_classes = [ExportThrottle]

    @extend_schema(responses={200: {"type": "object"}})
    def get(self, request):
        response = Response(build_export(request.user))
        response["Content-Disposition"] = 'attachment; filename="moim-export.json"'
        return response


class UserDetailView(APIView):
    @extend_schema(responses=PublicProfileSerializer)
    def get(self, request, handle: str):
        profile = selectors.profile_for_handle(viewer=request.user, handle=handle)
        return Response(PublicProfileSerializer(profile, context={"request": request}).data)


class UserPostsView(ListAPIView):
    """A profile's status posts, newest first; ``POST`` adds one to my own profile."""

    serializer_class = StatusPostSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator
            return StatusPost.objects.none()
        profile = selectors.profile_for_handle(
            viewer=self.request.user, handle=self.kwargs["handle"]
        )
        return selectors.status_posts_by(profile.user_id)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if page is None:
            return None
        return with_reaction_summaries("status_post", list(page), viewer=self.request.user)

    @extend_schema(request=StatusPostCreateSerializer, responses={201: StatusPostSerializer})
    def post(self, request, handle: str):
        profile = selectors.profile_for_handle(viewer=request.user, handle=handle)
        if profile.user_id != request.user.pk:
            raise PermissionDeniedError(_("You can only post on your own profile."))
        serializer = StatusPostCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        post = services.create_status_post(
            author=request.user,
            body=serializer.validated_data["body"],
            image=serializer.validated_data.get("image"),
        )
        return Response(StatusPostSerializer(post).data, status=status.HTTP_201_CREATED)


class PostDetailView(APIView):
    @extend_schema(responses=StatusPostSerializer)
    def get(self, request, post_id: int):
        post = selectors.status_post_for_viewer(viewer=request.user, post_id=post_id)
        with_reaction_summaries("status_post", [post], viewer=request.user)
        return Response(StatusPostSerializer(post).data)

    @extend_schema(request=StatusPostUpdateSerializer, responses=StatusPostSerializer)
    def patch(self, request, post_id: int):
        selectors.status_post_for_viewer(viewer=request.user, post_id=post_id)
        serializer = StatusPostUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.update_status_post(
            actor=request.user, post_id=post_id, body=serializer.validated_data["body"]
        )
        post = selectors.status_post_for_viewer(viewer=request.user, post_id=post_id)
        with_reaction_summaries("status_post", [post], viewer=request.user)
        return Response(StatusPostSerializer(post).data)

    @extend_schema(responses={204: None})
    def delete(self, request, post_id: int):
        selectors.status_post_for_viewer(viewer=request.user, post_id=post_id)
        services.delete_status_post(actor=request.user, post_id=post_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _relationship(request, handle: str) -> dict:
    profile = selectors.profile_for_handle(viewer=request.user, handle=handle)
    return {
        "handle": profile.handle,
        "following": selectors.is_following(request.user, profile.user_id),
        "follows_you": selectors.is_following(profile.user_id, request.user),
        "blocked": selectors.is_blocked(request.user, profile.user_id),
    }


_RELATIONSHIP_SCHEMA = {
    "type": "object",
    "properties": {
        "handle": {"type": "string"},
        "following": {"type": "boolean"},
        "follows_you": {"type": "boolean"},
        "blocked": {"type": "boolean"},
    },
}


class FollowView(APIView):
    @extend_schema(request=None, responses={200: _RELATIONSHIP_SCHEMA})
    def post(self, request, handle: str):
        profile = selectors.profile_for_handle(viewer=request.user, handle=handle)
        services.follow_user(follower=request.user, followee=profile.user)
        return Response(_relationship(request, handle))

    @extend_schema(request=None, responses={200: _RELATIONSHIP_SCHEMA})
    def delete(self, request, handle: str):
        profile = selectors.profile_for_handle(viewer=request.user, handle=handle)
        services.unfollow_user(follower=request.user, followee=profile.user)
        return Response(_relationship(request, handle))


class BlockView(APIView):
    @extend_schema(request=None, responses={200: _RELATIONSHIP_SCHEMA})
    def post(self, request, handle: str):
        profile = selectors.profile_for_handle(viewer=request.user, handle=handle)
        services.block_user(blocker=request.user, blocked=profile.user)
        return Response(_relationship(request, handle))

    @extend_schema(request=None, responses={200: _RELATIONSHIP_SCHEMA})
    def delete(self, request, handle: str):
        profile = selectors.profile_for_handle(viewer=request.user, handle=handle)
        services.unblock_user(blocker=request.user, blocked=profile.user)
        return Response(_relationship(request, handle))


FEED_PAGE_SIZE = 20
FEED_MAX_PAGE_SIZE = 100


class FriendsFeedView(APIView):
    """Status posts of people I follow and rooms my friends joined with their main profile."""

    @extend_schema(
        parameters=[
            OpenApiParameter("cursor", str, description="The `next` link's cursor."),
            OpenApiParameter("limit", int, description="Items per page (at most 100)."),
        ],
        responses={200: {"type": "object"}},
    )
    def get(self, request):
        try:
            limit = int(request.query_params.get("limit", FEED_PAGE_SIZE))
        except ValueError:
            limit = FEED_PAGE_SIZE
        limit = max(1, min(limit, FEED_MAX_PAGE_SIZE))
        page = selectors.friends_feed_page(
            viewer=request.user, cursor=request.query_params.get("cursor") or None, limit=limit
        )
        next_url = None
        if page.next_cursor:
            next_url = request.build_absolute_uri(
                f"{request.path}?{urlencode({'cursor': page.next_cursor, 'limit': limit})}"
            )
        context = {"request": request}
        with_reaction_summaries(
            "status_post",
            [item.post for item in page.items if item.kind == selectors.POST],
            viewer=request.user,
        )
        return Response(
            {
                "next": next_url,
                "previous": None,
                "results": [feed_item_data(item, context) for item in page.items],
            }
        )


PEOPLE_PAGE_DEFAULT, PEOPLE_PAGE_MAX = 20, 50


def _people_limit(request) -> int:
    raw = request.query_params.get("limit") or PEOPLE_PAGE_DEFAULT
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        raise DomainError(_("limit must be a whole number."), code="invalid_limit") from None
    if not 1 <= limit <= PEOPLE_PAGE_MAX:
        raise DomainError(
            _("limit must be between 1 and %(max)s.") % {"max": PEOPLE_PAGE_MAX},
            code="invalid_limit",
        )
    return limit


class PeopleSearchView(APIView):
    """People by handle or display name: the best matches, no pages."""

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="Part of a handle or display name."),
            OpenApiParameter(
                "limit",
                int,
                description=f"At most {PEOPLE_PAGE_MAX} (default {PEOPLE_PAGE_DEFAULT}).",
            ),
        ],
        responses=inline_serializer(
            "PeopleSearchResults", {"results": PersonSerializer(many=True)}
        ),
    )
    def get(self, request):
        limit = _people_limit(request)
        people = selectors.search_people(
            viewer=request.user, query=request.query_params.get("q", "")
        )
        return Response({"results": PersonSerializer(people[:limit], many=True).data})


class PeopleSuggestionsView(APIView):
    """People I might follow: who follows me, who the people I follow follow, who shows
    their main profile in my public rooms."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "limit",
                int,
                description=f"At most {PEOPLE_PAGE_MAX} (default {PEOPLE_PAGE_DEFAULT}).",
            ),
        ],
        responses=inline_serializer(
            "PeopleSuggestions", {"results": SuggestionSerializer(many=True)}
        ),
    )
    def get(self, request):
        people = selectors.follow_suggestions(viewer=request.user, limit=_people_limit(request))
        return Response({"results": SuggestionSerializer(people, many=True).data})
