from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from commerce.models import Leg, RoomAccess


class MoneySerializer(serializers.Serializer):
    amount = serializers.IntegerField(min_value=1, help_text=_("Whole minor units."))
    currency = serializers.CharField(min_length=3, max_length=3)

    def validate_currency(self, value: str) -> str:
        return value.upper()


class TopUpSerializer(MoneySerializer):
    pass


class PayoutSerializer(MoneySerializer):
    pass


class TipSerializer(MoneySerializer):
    message = serializers.IntegerField(
        required=False, min_value=1, help_text=_("Tip the author of this message.")
    )
    membership = serializers.IntegerField(
        required=False, min_value=1, help_text=_("Tip this room member (a membership id).")
    )
    user = serializers.CharField(required=False, max_length=31, help_text=_("A member handle."))
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=140,
        help_text=_("Shown with the tip in the room's chat (message or membership tips)."),
    )

    def validate(self, attrs):
        if sum(key in attrs for key in ("message", "membership", "user")) != 1:
            raise serializers.ValidationError(
                _('Send exactly one of "message", "membership" or "user".')
            )
        return attrs


class TipQuoteQuerySerializer(serializers.Serializer):
    message = serializers.IntegerField(required=False, min_value=1)
    membership = serializers.IntegerField(required=False, min_value=1)
    amount = serializers.IntegerField(required=False, min_value=1)
    currency = serializers.CharField(required=False, min_length=3, max_length=3)

    def validate_currency(self, value: str) -> str:
        return value.upper()

    def validate(self, attrs):
        if ("message" in attrs) == ("membership" in attrs):
            raise serializers.ValidationError(_('Send either "message" or "membership".'))
        return attrs


class MoneyAmountSerializer(serializers.Serializer):
    amount = serializers.IntegerField(help_text=_("Whole minor units."))
    display = serializers.CharField(help_text=_("As people read it: ₩1,000, $4.99."))


class TipPresetSerializer(MoneyAmountSerializer):
    input = serializers.CharField(help_text=_("In major units, as typed: 1000, 4.99."))


class TipQuoteRecipientSerializer(serializers.Serializer):
    membership_id = serializers.IntegerField()
    name = serializers.CharField(help_text=_("The room nickname."))


class TipQuoteLineSerializer(serializers.Serializer):
    amount = MoneyAmountSerializer()
    fee = MoneyAmountSerializer()
    net = MoneyAmountSerializer()
    enough = serializers.BooleanField(help_text=_("The wallet holds the amount."))
    shortfall = MoneyAmountSerializer(help_text=_("What a top-up must add (0 when enough)."))


class TipQuoteSerializer(serializers.Serializer):
    recipient = TipQuoteRecipientSerializer()
    currency = serializers.CharField()
    exponent = serializers.IntegerField(help_text=_("Minor-unit digits (KRW 0, USD 2)."))
    presets = TipPresetSerializer(many=True)
    balance = MoneyAmountSerializer(help_text=_("The wallet's available balance."))
    fee_percent = serializers.FloatField()
    quote = TipQuoteLineSerializer(allow_null=True)


class StatementLineSerializer(serializers.ModelSerializer):
    """One line of a statement: gross, platform fee, net and the running balance."""

    account = serializers.CharField(source="account.kind")
    kind = serializers.CharField(source="transfer.kind")
    description = serializers.CharField(source="transfer.description")
    transfer = serializers.IntegerField(source="transfer_id")
    counterparty = serializers.CharField(source="counterparty_label")
    fee = serializers.IntegerField(source="statement_fee", help_text=_("gross - net"))
    net = serializers.IntegerField(source="amount")
    balance = serializers.IntegerField(source="running_balance")

    class Meta:
        model = Leg
        fields = [
            "id",
            "created_at",
            "transfer",
            "kind",
            "description",
            "counterparty",
            "account",
            "currency",
            "gross",
            "fee",
            "net",
            "balance",
        ]


class BalanceSerializer(serializers.Serializer):
    currency = serializers.CharField()
    available = serializers.IntegerField()
    pending = serializers.IntegerField()
    wallet = serializers.IntegerField()
    earnings_available = serializers.IntegerField()
    earnings_pending = serializers.IntegerField()
    payouts_held = serializers.IntegerField()


class WalletSerializer(serializers.Serializer):
    balances = BalanceSerializer(many=True)


# Response documents (built by ``commerce.responses``); for the API schema.
class TopUpResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    provider = serializers.CharField()
    transfer = serializers.IntegerField(allow_null=True)
    balance = BalanceSerializer(allow_null=True)


class TipRecipientSerializer(serializers.Serializer):
    name = serializers.CharField(help_text=_("Room nickname or display name."))
    handle = serializers.CharField(
        allow_null=True, help_text=_("Null when the recipient uses an open profile.")
    )


class TipResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    transfer = serializers.IntegerField()
    amount = serializers.IntegerField()
    fee = serializers.IntegerField()
    net = serializers.IntegerField()
    currency = serializers.CharField()
    message = serializers.IntegerField(allow_null=True)
    recipient = TipRecipientSerializer()
    created_at = serializers.DateTimeField()


class PayoutResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    hold = serializers.IntegerField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class RoomAccessSerializer(serializers.ModelSerializer):
    """The user's paid access to a room: ``paid_until`` null means a one-off entry."""

    room = serializers.IntegerField(source="room_id")

    class Meta:
        model = RoomAccess
        fields = ["room", "kind", "paid_until", "renews", "lapsed_at"]


class RoomPriceSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text=_("entry (one-off) or monthly"))
    amount = serializers.IntegerField(help_text=_("Minor units of the currency."))
    currency = serializers.CharField()


class RoomPurchaseStateSerializer(serializers.Serializer):
    """A room's price and my access to it (``price`` null: free to join)."""

    room = serializers.IntegerField()
    price = RoomPriceSerializer(allow_null=True)
    has_access = serializers.BooleanField()
    access = RoomAccessSerializer(allow_null=True)


class RoomPurchaseSerializer(serializers.Serializer):
    invite = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text=_("The invite code of a private room one is invited to."),
    )


class RefundSerializer(serializers.Serializer):
    transfer = serializers.IntegerField(min_value=1, help_text=_("The transfer to reverse."))


class RefundResultSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text=_("The reversal transfer."))
    reverses = serializers.IntegerField()
    created_at = serializers.DateTimeField()
