"""Trust and safety: reports folded into cases, the audit log, filters, appeals.

A *case* is one reported target (a message, a member as shown in a room, or a room)
while it is open: every further report of that target joins the open case and bumps
its reporter count. Appeals also arrive as cases, so moderators have one queue.
"""

from functools import lru_cache

import regex
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from profiles.text import fold


class ReportReason(models.TextChoices):
    SPAM = "spam", _("Spam or scam")
    HARASSMENT = "harassment", _("Harassment or bullying")
    HATE = "hate", _("Hate speech")
    SEXUAL = "sexual", _("Sexual content")
    VIOLENCE = "violence", _("Violence or threats")
    SELF_HARM = "self_harm", _("Self-harm")
    ILLEGAL = "illegal", _("Illegal content or child safety")
    OTHER = "other", _("Something else")


# Higher is worse; the queue is ordered by the worst reason a case has received.
REASON_SEVERITY = {
    ReportReason.ILLEGAL: 50,
    ReportReason.SELF_HARM: 45,
    ReportReason.VIOLENCE: 40,
    ReportReason.HATE: 30,
    ReportReason.SEXUAL: 25,
    ReportReason.HARASSMENT: 20,
    ReportReason.SPAM: 10,
    ReportReason.OTHER: 5,
}
APPEAL_SEVERITY = 15


class ModerationCase(models.Model):
    class TargetType(models.TextChoices):
        MESSAGE = "message", _("Message")
        MEMBER = "member", _("Member")
        ROOM = "room", _("Room")
        APPEAL = "appeal", _("Appeal")

    class Status(models.TextChoices):
        # "Open" is also a link's word (notifications): the context tells them apart.
        OPEN = "open", pgettext_lazy("moderation status", "Open")
        RESOLVED = "resolved", _("Resolved")
        DISMISSED = "dismissed", _("Dismissed")

    target_type = models.CharField(_("target"), max_length=10, choices=TargetType.choices)
    # "message:12", "member:7", "room:3", "appeal:5": at most one open case per key.
    target_key = models.CharField(max_length=40, editable=False)
    room = models.ForeignKey(
        "community.Room", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.ForeignKey(
        "community.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    membership = models.ForeignKey(
        "community.Membership",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("member"),
    )
    # Whose conduct the case is about: the author, the member, the room owner, the appellant.
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("subject"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    severity = models.PositiveSmallIntegerField(_("severity"), default=0)
    top_reason = models.CharField(_("reason"), max_length=20, choices=ReportReason.choices)
    reporter_count = models.PositiveIntegerField(_("reporters"), default=0)
    created_at = models.DateTimeField(_("opened"), auto_now_add=True)
    updated_at = models.DateTimeField(_("last report"), auto_now=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolution_note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("moderation case")
        verbose_name_plural = _("moderation cases")
        ordering = ["-severity", "-reporter_count", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["target_key"],
                condition=Q(status="open"),
                name="one_open_case_per_target",
            )
        ]
        indexes = [
            # The queue: open cases, worst first.
            models.Index(
                fields=["status", "-severity", "-reporter_count", "id"], name="case_queue_idx"
            ),
            # The same order across every status ("All" in the admin filter).
            models.Index(fields=["-severity", "-reporter_count", "id"], name="case_order_idx"),
            models.Index(fields=["subject", "-id"], name="case_subject_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.target_key}"


class Report(models.Model):
    """One person's report; several fold into one open case."""

    case = models.ForeignKey(ModerationCase, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=20, choices=ReportReason.choices)
    text = models.TextField(_("details"), max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "reporter"], name="one_report_per_case")
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} on case {self.case_id}"


# Longest reason or note kept with an action.
NOTE_MAX_LENGTH = 2000


class AuditLogQuerySet(models.QuerySet):
    def record(
        self,
        *,
        actor,
        action: str,
        target_type: str,
        target_id: int,
        target_repr: str,
        subject_id: int | None = None,
        room_id: int | None = None,
        case=None,
        reason: str = "",
        details: dict | None = None,
    ) -> "AuditLogEntry":
        """The one way to append to the audit log (call it in the action's transaction).
        Every package that acts on people or messages writes through here."""
        return self.create(
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            target_repr=target_repr[:200],
            subject_id=subject_id,
            room_id=room_id,
            case=case,
            reason=reason[:NOTE_MAX_LENGTH],
            details=details or {},
        )

    def record_member_action(
        self, *, actor, action: str, target, reason: str, case=None, details: dict | None = None
    ) -> "AuditLogEntry":
        """An action on a room member (``target``, a Membership)."""
        return self.record(
            actor=actor,
            action=action,
            target_type="membership",
            target_id=target.pk,
            target_repr=f"{target.nickname} (member {target.pk}) in room {target.room_id}",
            subject_id=target.user_id,
            room_id=target.room_id,
            case=case,
            reason=reason,
            details=details,
        )

    def update(self, **kwargs):
        raise TypeError("The audit log is append-only.")

    def delete(self):
        raise TypeError("The audit log is append-only.")


class AuditLogEntry(models.Model):
    """Who did what to which target, why and when. Written in the action's transaction."""

    class Action(models.TextChoices):
        HIDE_MESSAGE = "hide_message", _("Hid a message")
        WARN = "warn", _("Warned a member")
        MUTE = "mute", _("Muted a member")
        AUTO_MUTE = "auto_mute", _("Muted a member automatically (flood)")
        KICK = "kick", _("Kicked a member")
        UNDO_KICK = "undo_kick", _("Undid a kick")
        BAN = "ban", _("Banned a member")
        UNBAN = "unban", _("Unbanned a member")
        SUSPEND_USER = "suspend_user", _("Suspended a user")
        UNSUSPEND_USER = "unsuspend_user", _("Lifted a user's suspension")
        SUSPEND_ROOM = "suspend_room", _("Suspended a room")
        UNSUSPEND_ROOM = "unsuspend_room", _("Lifted a room's suspension")
        SLOW_MODE = "slow_mode", _("Changed slow mode")
        PIN = "pin", _("Pinned an announcement")
        UNPIN = "unpin", _("Removed the announcement")
        ADD_FILTER = "add_filter", _("Added a word filter")
        REMOVE_FILTER = "remove_filter", _("Removed a word filter")
        APPROVE_HELD = "approve_held", _("Approved a held message")
        REJECT_HELD = "reject_held", _("Rejected a held message")
        RESOLVE = "resolve", _("Resolved a case")
        DISMISS = "dismiss", _("Dismissed a case")
        GRANT_APPEAL = "grant_appeal", _("Granted an appeal")
        DENY_APPEAL = "deny_appeal", _("Denied an appeal")

    # Null when an automatic rule acted.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("who"),
    )
    action = models.CharField(_("what"), max_length=20, choices=Action.choices)
    target_type = models.CharField(max_length=20)
    target_id = models.BigIntegerField()
    # A readable snapshot: the target may later change or disappear.
    target_repr = models.CharField(_("target"), max_length=200)
    # The user the action was taken against, for the author's history.
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    room = models.ForeignKey(
        "community.Room", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    case = models.ForeignKey(
        ModerationCase, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField(_("why"), blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["subject", "-id"], name="audit_subject_idx"),
            models.Index(fields=["room", "-id"], name="audit_room_idx"),
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.target_repr}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("The audit log is append-only.")


class BlockedPattern(models.Model):
    """A blocked word or pattern, site-wide (no room) or for one room."""

    class Kind(models.TextChoices):
        WORD = "word", _("Word or phrase")
        PATTERN = "pattern", _("Pattern (regular expression)")

    class Action(models.TextChoices):
        BLOCK = "block", _("Block the message")
        HOLD = "hold", _("Hold for review")

    room = models.ForeignKey(
        "community.Room",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="word_filters",
        help_text=_("Empty for a site-wide rule."),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.WORD)
    text = models.CharField(_("word or pattern"), max_length=settings.MODERATION_PATTERN_MAX_LENGTH)
    action = models.CharField(
        _("action"), max_length=10, choices=Action.choices, default=Action.BLOCK
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("blocked word or pattern")
        verbose_name_plural = _("blocked words and patterns")
        ordering = ["id"]
        indexes = [models.Index(fields=["room", "is_active"], name="blocked_pattern_room_idx")]

    def __str__(self) -> str:
        return self.text

    def clean(self):
        validate_rule_text(kind=self.kind, text=self.text)


class HeldMessage(models.Model):
    """A message a hold rule stopped; a host approves (it is sent) or rejects it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    room = models.ForeignKey("community.Room", on_delete=models.CASCADE, related_name="+")
    membership = models.ForeignKey(
        "community.Membership", on_delete=models.CASCADE, related_name="+"
    )
    body = models.TextField()
    rule_kind = models.CharField(max_length=20)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    message = models.ForeignKey(
        "community.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # An image or video message's file (bound to the room); ``body`` is then its caption.
    media = models.ForeignKey(
        "community.MediaAsset",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("image or video"),
    )

    class Meta:
        verbose_name = _("held message")
        verbose_name_plural = _("held messages")
        ordering = ["id"]
        indexes = [models.Index(fields=["room", "status", "id"], name="held_room_status_idx")]

    def __str__(self) -> str:
        return f"held {self.pk} in {self.room_id}"


class RoomAnnouncement(models.Model):
    """The announcement a host pinned at the top of a room."""

    room = models.OneToOneField(
        "community.Room", on_delete=models.CASCADE, related_name="announcement"
    )
    body = models.TextField(_("announcement"), max_length=1000)
    pinned_by = models.ForeignKey(
        "community.Membership", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    pinned_at = models.DateTimeField(auto_now=True)
    # The message a host pinned as the notice (its text is copied into ``body`` when
    # pinned, so a later edit by its author does not change the notice); deleting or
    # hiding the message removes the notice (``community.chat.services.remove_message``).
    message = models.ForeignKey(
        "community.Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("pinned message"),
    )

    class Meta:
        verbose_name = _("pinned announcement")
        verbose_name_plural = _("pinned announcements")

    def __str__(self) -> str:
        return self.body[:40]


class Appeal(models.Model):
    """One appeal against one sanction (a room ban or a site suspension)."""

    class Kind(models.TextChoices):
        BAN = "ban", _("Room ban")
        SUSPENSION = "suspension", _("Account suspension")

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("moderation status", "Open")
        GRANTED = "granted", _("Granted")
        DENIED = "denied", _("Denied")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    membership = models.ForeignKey(
        "community.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The audit entry that imposed the sanction: one appeal per sanction.
    sanction = models.OneToOneField(AuditLogEntry, on_delete=models.PROTECT, related_name="appeal")
    text = models.TextField(_("appeal"), max_length=2000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    case = models.OneToOneField(
        ModerationCase, null=True, blank=True, on_delete=models.SET_NULL, related_name="appeal"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("appeal")
        verbose_name_plural = _("appeals")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} appeal {self.pk}"


# --- compiling word and pattern rules (used by chat's screening and the forms) ------


def validate_rule_text(*, kind: str, text: str) -> None:
    """Raise ValidationError unless the word or pattern is safe to run on every message."""
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": gettext("Enter a word or a pattern.")})
    if len(text) > settings.MODERATION_PATTERN_MAX_LENGTH:
        raise ValidationError(
            {
                "text": gettext("At most %(max)s characters.")
                % {"max": settings.MODERATION_PATTERN_MAX_LENGTH}
            }
        )
    if kind == BlockedPattern.Kind.PATTERN:
        try:
            compile_rule(BlockedPattern.Kind.PATTERN, text)
        except regex.error as exc:
            raise ValidationError(
                {"text": gettext("Not a valid pattern: %(error)s") % {"error": exc}}
            ) from exc


@lru_cache(maxsize=2048)
def compile_rule(kind: str, text: str) -> regex.Pattern:
    if kind == BlockedPattern.Kind.WORD:
        word = fold(text)
        # Whole-word match for Latin words ("ass" must not hit "class"); substring for
        # scripts without spaces between words, where a boundary would never match.
        if word.isascii():
            return regex.compile(rf"(?<!\w){regex.escape(word)}(?!\w)")
        return regex.compile(regex.escape(word))
    return regex.compile(text[: settings.MODERATION_PATTERN_MAX_LENGTH], regex.IGNORECASE)
