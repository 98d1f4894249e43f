from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from profiles.text import lookalike_key


def nickname_key(nickname: str) -> str:
    """NFKC, case-fold, invisible characters (zero-width joiners, bidi controls, variation
    selectors) dropped and Latin look-alikes from Cyrillic and Greek merged
    (``profiles.text.lookalike_key``): ``ＨＯＳＴ``, ``host``, ``h\u200bost`` and ``hоst``
    (Cyrillic о) are one name. Unique among a room's active members
    (``Membership.nickname_key``)."""
    return lookalike_key(nickname)[:200]


class Interest(models.Model):
    """A curated interest tag, named in several languages, optionally nested."""

    slug = models.SlugField(max_length=60, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=80)
    name_ko = models.CharField(_("name (Korean)"), max_length=80, blank=True)
    name_ja = models.CharField(_("name (Japanese)"), max_length=80, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    # Denormalised for ranking and display; kept by the room services.
    room_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        """The name in the active language, falling back to English."""
        language = (translation.get_language() or "en")[:2]
        return getattr(self, f"name_{language}", "") or self.name_en


class Hashtag(models.Model):
    """A free hashtag; ``key`` is the NFKC, case-folded form so look-alikes collide."""

    key = models.CharField(max_length=50, unique=True)
    label = models.CharField(max_length=50)

    def __str__(self) -> str:
        return f"#{self.label}"


class Room(models.Model):
    class Visibility(models.TextChoices):
        PUBLIC = "public", _("Public and listed")
        UNLISTED = "unlisted", _("Unlisted (link only)")
        PRIVATE = "private", _("Private")

    class JoinPolicy(models.TextChoices):
        OPEN = "open", _("Anyone can join")
        PASSWORD = "password", _("Password")
        APPROVAL = "approval", _("Host approval")

    title = models.CharField(_("title"), max_length=80)
    description = models.TextField(_("description"), max_length=2000, blank=True)
    cover_media = models.ForeignKey(
        "community.MediaAsset",
        verbose_name=_("cover"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    language = models.CharField(_("language"), max_length=10, default="en")
    visibility = models.CharField(
        _("visibility"), max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    join_policy = models.CharField(
        _("join policy"), max_length=10, choices=JoinPolicy.choices, default=JoinPolicy.OPEN
    )
    password_hash = models.CharField(max_length=200, blank=True)
    capacity = models.PositiveIntegerField(_("capacity"), default=settings.ROOM_DEFAULT_CAPACITY)
    slow_mode_seconds = models.PositiveIntegerField(_("slow mode (seconds)"), default=0)
    is_web_public = models.BooleanField(_("readable without an account"), default=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_rooms"
    )
    interests = models.ManyToManyField("community.Interest", blank=True, related_name="rooms")
    hashtags = models.ManyToManyField("community.Hashtag", blank=True, related_name="rooms")
    is_archived = models.BooleanField(default=False)
    is_suspended = models.BooleanField(default=False)
    # Folded (NFKC + casefold) title, description, hashtags and interest names, kept by
    # the room services; PostgreSQL indexes it with a GIN trigram index for search.
    search_text = models.TextField(blank=True, default="", editable=False)
    # Counters kept by the services under the room's row lock.
    member_count = models.PositiveIntegerField(default=0)
    last_message_seq = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    last_activity_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-last_activity_at"]
        indexes = [models.Index(fields=["visibility", "-last_activity_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(member_count__lte=models.F("capacity")), name="room_within_capacity"
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def group_name(self) -> str:
        return f"room.{self.pk}"


# A member's per-room nickname, defined once (join requests, forms, serializers, services).
NICKNAME_MAX_LENGTH = 40


class Membership(models.Model):
    """A user in a room, shown there only by ``nickname`` (their open profile)."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        COHOST = "cohost", _("Co-host")
        MEMBER = "member", _("Member")

    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        LEFT = "left", _("Left")
        BANNED = "banned", _("Banned")

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    nickname = models.CharField(_("nickname"), max_length=NICKNAME_MAX_LENGTH)
    # ``nickname`` folded for comparison (``profiles.text.lookalike_key``: NFKC, case-fold,
    # invisible characters dropped, Latin look-alikes): unique among a room's active
    # members, so nobody can take the host's nickname with ``ＨＯＳＴ`` or a zero-width space.
    nickname_key = models.CharField(max_length=200, default="", editable=False)
    # Bound to the room (MediaAsset.room): a private room's avatars are served only to
    # its members, and the asset is never the main profile's, so it links nothing.
    avatar_media = models.ForeignKey(
        "community.MediaAsset",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # False: the member chose to show their main profile in this room.
    is_open_profile = models.BooleanField(default=True)
    muted_until = models.DateTimeField(null=True, blank=True)
    banned_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)
    last_read_seq = models.PositiveBigIntegerField(default=0)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Leaving and joining again makes a new membership (a new identity in the
            # room); at most one is current (active, or banned until unbanned).
            models.UniqueConstraint(
                fields=["room", "user"],
                condition=Q(state__in=["active", "banned"]),
                name="one_current_membership_per_user",
            ),
            models.UniqueConstraint(
                fields=["room", "nickname_key"],
                condition=Q(state="active"),
                name="nickname_unique_among_active_members",
            ),
        ]
        indexes = [
            models.Index(fields=["room", "user"], name="membership_room_user"),
            models.Index(fields=["room", "state", "role"]),
            models.Index(fields=["user", "state"]),
            # Trending reads recent joins per room.
            models.Index(fields=["room", "joined_at"]),
            # Read counts group a room's members behind a message by read marker
            # (community/reads): an index-only scan on PostgreSQL.
            models.Index(
                fields=["room", "state", "last_read_seq"],
                include=["joined_at"],
                name="membership_read_markers",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.nickname} in {self.room_id}"

    def save(self, *args, **kwargs):
        # The key follows the nickname wherever it is saved (services, admin, seed data).
        update_fields = kwargs.get("update_fields")
        if update_fields is None or "nickname" in update_fields:
            self.nickname_key = nickname_key(self.nickname)
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "nickname_key"}
        super().save(*args, **kwargs)


class JoinRequest(models.Model):
    """A request to join a host-approval room, decided by the owner or a co-host."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        DECLINED = "declined", _("Declined")
        CANCELLED = "cancelled", _("Cancelled")

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="join_requests")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="room_join_requests"
    )
    nickname = models.CharField(_("nickname"), max_length=NICKNAME_MAX_LENGTH)
    is_open_profile = models.BooleanField(default=True)
    message = models.CharField(_("message to the hosts"), max_length=300, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["room", "user"],
                condition=Q(state="pending"),
                name="one_pending_join_request_per_user",
            )
        ]
        indexes = [models.Index(fields=["room", "state"])]

    def __str__(self) -> str:
        return f"{self.nickname} -> {self.room_id} ({self.state})"


class RoomInvite(models.Model):
    """An invite link (``/invite/<code>/``): the way into unlisted and private rooms."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="invites")
    code = models.CharField(max_length=32, unique=True)
    created_by = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # 0 = unlimited.
    max_uses = models.PositiveIntegerField(default=0)
    use_count = models.PositiveIntegerField(default=0)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"invite {self.code} to {self.room_id}"


class MemberBlock(models.Model):
    """``blocker`` blocked one *membership* in a room (how Kakao Open Chat blocks inside
    a room): that member's messages fold for the blocker there, and their mentions,
    replies and reactions stop reaching them. It says nothing about the account behind
    the membership: account blocks (``profiles.Block``) apply only to memberships shown
    with the main profile, so blocking a handle never singles out an open profile."""

    blocker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="member_blocks"
    )
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["blocker", "membership"], name="member_block_once"),
        ]
        indexes = [models.Index(fields=["blocker", "room"], name="member_block_blocker_room")]

    def __str__(self) -> str:
        return f"{self.blocker_id} ⊘ member {self.membership_id}"
