"""API tokens (simplejwt) that end when the password changes or on "log out everywhere".

Every token carries ``cred``, the user's :meth:`~profiles.models.User.credentials_stamp`.
Authentication compares it with the stamp of the user row it loads anyway (no extra
query), and so does refreshing: a token minted before a password change or a "log out
everywhere" stops working at that moment, access tokens included, and rotation cannot
keep a stolen refresh token alive past it. The refresh tokens are also blacklisted
(:func:`revoke_refresh_tokens`), which shows in the admin.
"""

import functools
import threading

from django.contrib.auth import get_user_model
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import authentication, serializers
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import aware_utcnow

from config.compiled_queries import CompiledQuery

CREDENTIALS_CLAIM = "cred"


def refresh_token_for(user) -> RefreshToken:
    token = RefreshToken.for_user(user)
    token[CREDENTIALS_CLAIM] = user.credentials_stamp()
    return token


def token_pair_for(user) -> dict[str, str]:
    refresh = refresh_token_for(user)
    return {"refresh": str(refresh), "access": str(refresh.access_token)}


def _check_stamp(token, user) -> None:
    if token.get(CREDENTIALS_CLAIM) != user.credentials_stamp():
        raise AuthenticationFailed(_("This token was revoked: log in again."), code="token_revoked")


def revoke_refresh_tokens(user) -> int:
    """Blacklist every unexpired refresh token of ``user``; returns how many."""
    live = OutstandingToken.objects.filter(
        user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    )
    created = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token_id=token_id) for token_id in live.values_list("pk", flat=True)],
        ignore_conflicts=True,
    )
    return len(created)


class TokenObtainPairSerializer(serializers.TokenObtainPairSerializer):
    @classmethod
    def get_token(cls, user):
        return refresh_token_for(user)


class TokenRefreshSerializer(serializers.TokenRefreshSerializer):
    def validate(self, attrs):
        refresh = self.token_class(attrs["refresh"])
        user_id = refresh.payload.get(api_settings.USER_ID_CLAIM)
        user = get_user_model().objects.filter(**{api_settings.USER_ID_FIELD: user_id}).first()
        if user is None:
            raise AuthenticationFailed(
                self.error_messages["no_active_account"], code="no_active_account"
            )
        _check_stamp(refresh, user)
        return super().validate(attrs)


@functools.cache
def _user_by_id() -> CompiledQuery:
    """The user of every API request with a token, compiled once per process
    (config/compiled_queries.py): built through the ORM it was ~0.5 ms of CPU per
    request (docs/performance.md, "Message history API")."""
    user_model = get_user_model()
    return CompiledQuery(
        user_model, lambda user_id: user_model.objects.filter(pk=user_id).order_by(), kinds=(int,)
    )


# Access tokens whose signature and claims were checked, by their encoded text: a client
# sends the same one with every request of its 15 minutes, and decoding it (PyJWT's
# HMAC, JSON and claim checks) was half of authenticating a request (docs/performance.md,
# "Message history API"). Only a token that passed simplejwt's checks is kept, and each
# use checks its expiry again; revocation is the user's stamp, read on every request.
_VALIDATED_KEPT = 4096
_validated_tokens: dict[bytes, object] = {}
_validated_lock = threading.Lock()


@receiver(setting_changed)
def _forget_validated_tokens(*, setting, **kwargs) -> None:
    if setting in ("SIMPLE_JWT", "SECRET_KEY"):  # another key or claims: check anew
        with _validated_lock:
            _validated_tokens.clear()


class JWTAuthentication(authentication.JWTAuthentication):
    def get_validated_token(self, raw_token):
        key = bytes(raw_token)
        token = _validated_tokens.get(key)
        if token is not None:
            try:
                token.check_exp(current_time=aware_utcnow())
            except TokenError:
                with _validated_lock:
                    _validated_tokens.pop(key, None)
            else:
                return token
        token = super().get_validated_token(raw_token)  # simplejwt's checks and errors
        with _validated_lock:
            while len(_validated_tokens) >= _VALIDATED_KEPT:
                del _validated_tokens[next(iter(_validated_tokens))]  # the oldest
            _validated_tokens[key] = token
        return token

    def get_user(self, validated_token):
        # simplejwt writes the id as a string ("42"); tokens from before it, as a number.
        user_id = validated_token.get(api_settings.USER_ID_CLAIM)
        if isinstance(user_id, str) and user_id.isascii() and user_id.isdigit():
            user_id = int(user_id)
        user = None
        if (
            type(user_id) is int
            and 0 < user_id < 2**63
            and api_settings.USER_ID_FIELD in ("id", "pk")
            and not api_settings.CHECK_REVOKE_TOKEN
        ):
            user = _user_by_id().first(user_id)
        if user is None or (api_settings.CHECK_USER_IS_ACTIVE and not user.is_active):
            # simplejwt's own lookup and checks, and its errors (no such user, inactive,
            # no user claim, a revoked password hash).
            user = super().get_user(validated_token)
        _check_stamp(validated_token, user)
        return user


class JWTScheme(SimpleJWTScheme):
    """The OpenAPI security scheme for :class:`JWTAuthentication`: simplejwt's own."""

    target_class = "profiles.tokens.JWTAuthentication"
