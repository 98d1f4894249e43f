"""The ledger: accounts with stored balances, immutable transfers and their legs.

Double entry: a :class:`Transfer` is one atomic operation (a tip, a top-up, a payout
hold); its :class:`Leg` rows move signed amounts between accounts and sum to zero per
currency. Every posted leg updates its account's stored ``balance`` in the same
database transaction, so a balance is read in one row, never summed (hordak's slow
path), and the database itself refuses a guarded balance below zero (a CHECK).

Transfers and legs are append-only: corrections are reversal transfers. Holds are
*pending* transfers whose legs reserve ``pending_debits``/``pending_credits``; a later
``post`` or ``void`` transfer resolves one exactly once (a unique ``resolves`` link).
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _


class Account(models.Model):
    class Kind(models.TextChoices):
        WALLET = "wallet", _("Wallet")
        EARNINGS_PENDING = "earnings_pending", _("Earnings (pending)")
        EARNINGS_AVAILABLE = "earnings_available", _("Earnings (available)")
        PLATFORM_FEE = "platform_fee", _("Platform fees")
        PROVIDER_CLEARING = "provider_clearing", _("Payment provider clearing")
        PAYOUT_CLEARING = "payout_clearing", _("Payout clearing")

    USER_KINDS = (Kind.WALLET, Kind.EARNINGS_PENDING, Kind.EARNINGS_AVAILABLE)
    # House accounts that may go negative: money enters the ledger from the provider.
    HOUSE_KINDS = (Kind.PROVIDER_CLEARING,)

    kind = models.CharField(max_length=24, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_accounts",
    )
    currency = models.CharField(max_length=3)
    # Posted balance in minor units: the sum of this account's posted legs.
    balance = models.BigIntegerField(default=0)
    # Reserved by unresolved pending transfers (holds).
    pending_debits = models.BigIntegerField(default=0)
    pending_credits = models.BigIntegerField(default=0)
    allow_negative = models.BooleanField(default=False)
    # The platform fee and a creator's pending earnings are split over sub-accounts
    # ("shards", 0 to COMMERCE_PLATFORM_FEE_SHARDS / COMMERCE_EARNINGS_SHARDS - 1) so
    # that concurrent payments rarely lock the same row; their balance is the sum.
    # Pending earnings' shards above 0 are credit-only: a merge moves them into shard 0
    # before anything debits it (commerce.services.payouts.merge_earnings_shards).
    # Every other account is shard 0.
    shard = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    SHARDED_KINDS = (Kind.PLATFORM_FEE, Kind.EARNINGS_PENDING)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "user", "currency", "shard"],
                condition=Q(user__isnull=False),
                name="ledger_one_user_account_per_kind_currency_shard",
            ),
            models.UniqueConstraint(
                fields=["kind", "currency", "shard"],
                condition=Q(user__isnull=True),
                name="ledger_one_system_account_per_kind_currency_shard",
            ),
            models.CheckConstraint(
                condition=Q(shard=0)
                | Q(kind="platform_fee", user__isnull=True)
                | Q(kind="earnings_pending", user__isnull=False),
                name="ledger_only_fee_and_pending_earnings_sharded",
            ),
            # The guard: what is left after holds is never negative on a guarded account.
            models.CheckConstraint(
                condition=Q(allow_negative=True) | Q(balance__gte=F("pending_debits")),
                name="ledger_guarded_balance_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(pending_debits__gte=0) & Q(pending_credits__gte=0),
                name="ledger_pending_not_negative",
            ),
        ]

    def __str__(self) -> str:
        owner = f"user {self.user_id}" if self.user_id else "system"
        if self.shard:
            owner = f"{owner}, shard {self.shard}"
        return f"{self.get_kind_display()} {self.currency} ({owner})"

    @property
    def available(self) -> int:
        return self.balance - self.pending_debits


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Ledger rows are append-only; post a reversal instead.")

    def delete(self):
        raise TypeError("Ledger rows are append-only; post a reversal instead.")


class AppendOnlyModel(models.Model):
    """Refused in Python everywhere; PostgreSQL also refuses with a trigger."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("Ledger rows are append-only; post a reversal instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Ledger rows are append-only; post a reversal instead.")


class Transfer(AppendOnlyModel):
    class Kind(models.TextChoices):
        TOPUP = "topup", _("Top-up")
        TIP = "tip", _("Tip")
        ROOM_ENTRY = "room_entry", _("Room entry")
        ROOM_MEMBERSHIP = "room_membership", _("Room membership")
        MATURATION = "maturation", _("Earnings released")
        PAYOUT = "payout", _("Payout")
        PAYOUT_SETTLEMENT = "payout_settlement", _("Payout sent")
        REVERSAL = "reversal", _("Reversal")
        ADJUSTMENT = "adjustment", _("Adjustment")
        EARNINGS_MERGE = "earnings_merge", _("Pending earnings merged")

    class Phase(models.TextChoices):
        POSTED = "posted", _("Posted")
        PENDING = "pending", _("Pending (hold)")
        POST = "post", _("Post of a hold")
        VOID = "void", _("Void of a hold")

    kind = models.CharField(max_length=24, choices=Kind.choices)
    phase = models.CharField(max_length=8, choices=Phase.choices, default=Phase.POSTED)
    # A post or void resolves one pending transfer; unique, so at most once.
    resolves = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="resolution"
    )
    # A reversal undoes one transfer; unique, so at most once.
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversal"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    # PROTECT: an append-only row cannot be updated to NULL; deleted accounts are kept
    # as tombstones, so ledger rows keep pointing at them.
    initiated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    description = models.CharField(max_length=200, blank=True)
    # Not indexed: nothing filters or orders transfers by it (the admin orders by id),
    # and every tip paid for the index entry.
    created_at = models.DateTimeField(auto_now_add=True)

    # Payouts are undone by their own flow only (rejection or expiry voids the hold);
    # a release of earnings is not a payment. No manual reversal undoes either: a
    # reversed payout posting would credit the creator while the payout stays approved.
    # A merge of pending earnings' shards moves money within one creator's pending
    # earnings: a refund reverses the payment it merged, never the merge.
    NEVER_REVERSED_KINDS = (
        Kind.PAYOUT,
        Kind.PAYOUT_SETTLEMENT,
        Kind.MATURATION,
        Kind.REVERSAL,
        Kind.EARNINGS_MERGE,
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["expires_at"],
                condition=Q(phase="pending"),
                name="ledger_pending_expiry",
            )
        ]
        # Staff who may refund any transfer (the admin action, the web refund). Being
        # staff or a moderator grants nothing: only this permission, given explicitly.
        permissions = [("reverse_transfer", "Can reverse (refund) any transfer")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_posted(self) -> bool:
        return self.phase in (self.Phase.POSTED, self.Phase.POST)


class Leg(AppendOnlyModel):
    """One signed movement on one account. Legs of a transfer sum to zero per currency."""

    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="legs")
    # No index of its own: ``ledger_leg_account_id`` (account, -id) starts with it and
    # serves every read by account (statements, balances, maturation, PROTECT checks).
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="legs", db_index=False
    )
    currency = models.CharField(max_length=3)
    # Signed minor units: + credits the account, − debits it.
    amount = models.BigIntegerField()
    # What the statement shows: the gross of the operation and the platform fee kept
    # from it (the leg amount is the net). Same sign as ``amount``.
    gross = models.BigIntegerField()
    fee = models.BigIntegerField(default=0)
    # Posted legs move ``balance``; pending legs only reserve.
    is_posted = models.BooleanField()
    # The account's balance right after this leg (the statement's running balance),
    # written while the account row is locked, so per account it follows ``id``.
    balance_after = models.BigIntegerField()
    # What is on the other side when it names no person ("Top-up via sandbox", a room's
    # title). People are named on the mutable Tip row instead, so a deleted account's
    # name can be removed without touching these append-only rows.
    counterparty = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["account", "-id"], name="ledger_leg_account_id")]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="ledger_leg_nonzero")]

    def __str__(self) -> str:
        return f"{self.amount:+d} {self.currency} on {self.account_id}"

    def counterparty_label(self) -> str:
        """Who or what is on the other side, as this account's owner may see it.

        Needs ``select_related("account", "transfer__tip", "transfer__reverses__tip")``
        to stay one query per page.
        """
        transfer = self.transfer
        tip = _tip_of(transfer)
        if tip is None and transfer.reverses_id:
            tip = _tip_of(transfer.reverses)
        if tip is None:
            if transfer.kind in (Transfer.Kind.TOPUP, Transfer.Kind.PAYOUT):
                # Stored in the language of the request that wrote it, and it only
                # repeats the kind ("Top-up via sandbox", "Payout"): the kind says it.
                return ""
            return self.counterparty
        return tip.recipient_label if self.account.user_id == tip.sender_id else tip.sender_label


def _tip_of(transfer: "Transfer") -> "Tip | None":
    try:
        return transfer.tip
    except Tip.DoesNotExist:
        return None


class IdempotencyKey(models.Model):
    """A client-chosen key for a money-moving request, scoped to the user."""

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight", _("In flight")
        COMPLETED = "completed", _("Completed")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idempotency_keys"
    )
    key = models.CharField(max_length=255)
    scope = models.CharField(max_length=60)
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=10, choices=State.choices, default=State.IN_FLIGHT)
    # Who holds the in-flight request; a stale holder is taken over, and its late
    # commit is then refused.
    lock_token = models.CharField(max_length=32)
    locked_at = models.DateTimeField()
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"


class TopUp(models.Model):
    class Status(models.TextChoices):
        CREATED = "created", _("Created")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    provider = models.CharField(max_length=30)
    provider_reference = models.CharField(max_length=100, blank=True, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CREATED)
    transfer = models.OneToOneField(
        Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="topup"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"top-up {self.pk} {self.amount} {self.currency} ({self.status})"


class WebhookEvent(models.Model):
    """A provider event processed once: the unique id makes redelivery a no-op."""

    provider = models.CharField(max_length=30)
    event_id = models.CharField(max_length=100)
    event_type = models.CharField(max_length=60)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="webhook_event_once")
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.event_id}"


class Tip(models.Model):
    """What a tip was for; the money is the linked transfer."""

    transfer = models.OneToOneField(Transfer, on_delete=models.PROTECT, related_name="tip")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    message = models.ForeignKey(
        "community.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    amount = models.BigIntegerField()
    fee = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    # How each side sees the other: a room nickname for an open profile, never the main
    # profile. Mutable, so deleting an account can anonymise them.
    recipient_label = models.CharField(max_length=120)
    sender_label = models.CharField(max_length=120, blank=True)
    # A tip given in a room (from a message or the member list): both sides' room
    # memberships, the tipper's note and the ``tip`` message that shows it in the chat.
    sender_membership = models.ForeignKey(
        "community.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recipient_membership = models.ForeignKey(
        "community.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=140, blank=True)
    room_message = models.ForeignKey(
        "community.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    # The ``client_id`` of the tip's chat message: ``tip:<id>`` (community.chat).
    CHAT_KEY_PREFIX = "tip:"

    def __str__(self) -> str:
        return f"tip {self.pk}"

    @property
    def chat_key(self) -> str:
        return f"{self.CHAT_KEY_PREFIX}{self.pk}"


class TipNotificationOutbox(models.Model):
    """A paid tip whose recipient is still to be notified: a transactional outbox. The
    row is written by the tip's posting statement (so it exists exactly when the payment
    committed) and deleted by the relay once the notification is written
    (``commerce.services.tips.deliver_tip_notifications``, run every second by beat)."""

    tip = models.OneToOneField(Tip, primary_key=True, on_delete=models.CASCADE, related_name="+")
    # Filled in by the database: how long the oldest row has waited is the relay's lag.
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "commerce_tip_notification_outbox"
        verbose_name = _("tip awaiting its notification")
        verbose_name_plural = _("tips awaiting their notification")

    def __str__(self) -> str:
        return f"notification of tip {self.tip_id}"


class RoomPrice(models.Model):
    """A paid room: a one-off entry price, or a monthly membership."""

    class Kind(models.TextChoices):
        ENTRY = "entry", _("One-off entry")
        MONTHLY = "monthly", _("Monthly membership")

    room = models.OneToOneField("community.Room", on_delete=models.CASCADE, related_name="price")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.ENTRY)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="room_price_positive")
        ]

    def __str__(self) -> str:
        return f"{self.room_id}: {self.amount} {self.currency} ({self.kind})"


class RoomAccess(models.Model):
    """A user's paid right to join a room; monthly access renews until it lapses."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="room_accesses"
    )
    room = models.ForeignKey("community.Room", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=RoomPrice.Kind.choices)
    # Null: entry paid once, never expires.
    paid_until = models.DateTimeField(null=True, blank=True)
    renews = models.BooleanField(default=False)
    lapsed_at = models.DateTimeField(null=True, blank=True)
    last_transfer = models.ForeignKey(
        Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "room"], name="one_room_access_per_user")
        ]
        indexes = [models.Index(fields=["renews", "paid_until"])]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.room_id}"


class PayoutRequest(models.Model):
    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        EXPIRED = "expired", _("Expired")
        SETTLED = "settled", _("Settled")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    hold = models.OneToOneField(Transfer, on_delete=models.PROTECT, related_name="payout")
    settlement = models.OneToOneField(
        Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"payout {self.pk} {self.amount} {self.currency} ({self.status})"
