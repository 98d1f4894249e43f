import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

TIMEZONE_CHOICES = sorted((name, name) for name in zoneinfo.available_timezones())


class User(AbstractUser):
    """The account. Public-facing identity lives on :class:`Profile`.

    Locale and time zone sit here, not on the profile, because every request
    reads them and the user row is loaded by authentication anyway.
    """

    locale = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, blank=True)
    timezone = models.CharField(
        _("time zone"), max_length=64, choices=TIMEZONE_CHOICES, default="UTC"
    )
    # The currency top-ups and tips default to: chosen at sign-up from the browser's
    # language and country, changeable in the settings ("" falls back to the locale's).
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    # Set when the address received a signed link (verification or password reset) and
    # it was used; a new address starts unverified (profiles/email.py).
    email_verified = models.BooleanField(_("email verified"), default=False)
    suspended_until = models.DateTimeField(null=True, blank=True)
    # Raised by "log out everywhere": part of every session's auth hash and every API
    # token's credentials stamp, so all of them end at once (profiles/tokens.py).
    session_epoch = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def _get_session_auth_hash(self, secret=None):
        # Django ends every session whose stored hash no longer matches: a new password
        # does that already, a new epoch does it without one. Epoch 0 keeps Django's
        # own hash, so sessions from before the epoch existed stay valid.
        if not self.session_epoch:
            return super()._get_session_auth_hash(secret=secret)
        return salted_hmac(
            "profiles.User.session_auth_hash",
            f"{self.password}:{self.session_epoch}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    def credentials_stamp(self) -> str:
        """A short keyed digest of the password hash and the epoch, carried in every API
        token: a new password or "log out everywhere" changes it, and tokens carrying
        the old one are refused. Reveals nothing about the password."""
        return salted_hmac(
            "profiles.User.credentials_stamp",
            f"{self.password}:{self.session_epoch}",
            algorithm="sha256",
        ).hexdigest()[:24]


# The profile's text limits, defined once: the services, forms and serializers use these.
DISPLAY_NAME_MAX_LENGTH = 50
BIO_MAX_LENGTH = 500
STATUS_MESSAGE_MAX_LENGTH = 140
STATUS_POST_MAX_LENGTH = 500


class Profile(models.Model):
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="profile")
    handle = models.CharField(_("handle"), max_length=30, unique=True)
    # The folded handle: unique, so look-alike handles collide.
    handle_key = models.CharField(max_length=30, unique=True, editable=False)
    display_name = models.CharField(_("display name"), max_length=DISPLAY_NAME_MAX_LENGTH)
    bio = models.TextField(_("bio"), max_length=BIO_MAX_LENGTH, blank=True)
    status_message = models.CharField(
        _("status message"), max_length=STATUS_MESSAGE_MAX_LENGTH, blank=True
    )
    # Uploads go through the media pipeline (community.media.services): only
    # re-encoded renditions without EXIF/GPS are stored and served.
    avatar_media = models.ForeignKey(
        "community.MediaAsset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    background_media = models.ForeignKey(
        "community.MediaAsset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    interests = models.ManyToManyField("community.Interest", blank=True, related_name="+")
    languages = models.JSONField(default=list, blank=True)
    # Whether people search and follow suggestions may show this profile. Off, the
    # profile is still reachable by its address (a link someone was given).
    discoverable = models.BooleanField(_("show me in people search"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")

    def __str__(self) -> str:
        return f"@{self.handle}"


class StatusPost(models.Model):
    """A short post on a profile, shown to followers in the friends area."""

    author = models.ForeignKey(User, on_delete=models.CASCADE, related_name="status_posts")
    body = models.CharField(_("text"), max_length=STATUS_POST_MAX_LENGTH)
    image_media = models.ForeignKey(
        "community.MediaAsset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("status post")
        verbose_name_plural = _("status posts")
        indexes = [models.Index(fields=["author", "-id"])]

    def __str__(self) -> str:
        return self.body[:40]


class Follow(models.Model):
    """``follower`` follows ``followee``; two follows in opposite directions make friends."""

    follower = models.ForeignKey(User, on_delete=models.CASCADE, related_name="following_links")
    followee = models.ForeignKey(User, on_delete=models.CASCADE, related_name="follower_links")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("follow")
        verbose_name_plural = _("follows")
        constraints = [
            models.UniqueConstraint(fields=["follower", "followee"], name="follow_once"),
            models.CheckConstraint(
                condition=~models.Q(follower=models.F("followee")), name="follow_not_self"
            ),
        ]
        indexes = [models.Index(fields=["followee", "follower"])]

    def __str__(self) -> str:
        return f"{self.follower_id} → {self.followee_id}"


class Block(models.Model):
    """``blocker`` blocked ``blocked``: the blocked user cannot see, follow or react to them."""

    blocker = models.ForeignKey(User, on_delete=models.CASCADE, related_name="blocking_links")
    blocked = models.ForeignKey(User, on_delete=models.CASCADE, related_name="blocked_by_links")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("block")
        verbose_name_plural = _("blocks")
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="block_once"),
            models.CheckConstraint(
                condition=~models.Q(blocker=models.F("blocked")), name="block_not_self"
            ),
        ]
        indexes = [models.Index(fields=["blocked", "blocker"])]

    def __str__(self) -> str:
        return f"{self.blocker_id} ⊘ {self.blocked_id}"
