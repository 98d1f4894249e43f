from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from commerce import responses, selectors, services
from commerce.api.filters import StatementFilter
from commerce.api.serializers import (
    PayoutResultSerializer,
    PayoutSerializer,
    RefundResultSerializer,
    RefundSerializer,
    RoomAccessSerializer,
    RoomPurchaseSerializer,
    RoomPurchaseStateSerializer,
    StatementLineSerializer,
    TipQuoteQuerySerializer,
    TipQuoteSerializer,
    TipResultSerializer,
    TipSerializer,
    TopUpResultSerializer,
    TopUpSerializer,
    WalletSerializer,
)
from commerce.services.idempotency import run_idempotent
from community.rooms.selectors import room_visible_to
from config.currencies import validate_currency
from config.errors import NotFoundError

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="Client-chosen, unique per user; a retry with the same key is replayed.",
)


class WalletView(APIView):
    @extend_schema(responses=WalletSerializer)
    def get(self, request):
        return Response({"balances": selectors.wallet_balances(user_id=request.user.pk)})


class StatementView(ListAPIView):
    """Statement lines, newest first; filter by ``currency`` and ``account``."""

    serializer_class = StatementLineSerializer
    filterset_class = StatementFilter

    def get_queryset(self):
        return selectors.statement_lines(user_id=self.request.user.pk)


class IdempotentOperationView(APIView):
    """POST runs the operation once per Idempotency-Key; retries replay its answer."""

    serializer_class: type
    scope: str
    throttle_scope = "money"

    def operate(self, data: dict) -> dict:
        raise NotImplementedError

    def post(self, request):
        serializer = self.serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = run_idempotent(
            user_id=request.user.pk,
            key=request.headers.get("Idempotency-Key"),
            scope=self.scope,
            params=dict(data),
            operation=lambda: (status.HTTP_201_CREATED, self.operate(data)),
        )
        response = Response(result.body, status=result.status)
        if result.replayed:
            response["Idempotent-Replayed"] = "true"
        return response


class TopUpView(IdempotentOperationView):
    serializer_class = TopUpSerializer
    scope = "topup"

    @extend_schema(
        request=TopUpSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: TopUpResultSerializer},
        examples=[OpenApiExample("Top up", value={"amount": 10000, "currency": "KRW"})],
    )
    def post(self, request):
        return super().post(request)

    def operate(self, data):
        topup = services.create_topup(
            user=self.request.user, amount=data["amount"], currency=data["currency"]
        )
        return responses.topup_body(topup)


class TipView(IdempotentOperationView):
    serializer_class = TipSerializer
    scope = "tip"

    @extend_schema(
        request=TipSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: TipResultSerializer},
        examples=[
            OpenApiExample(
                "Tip a message", value={"amount": 1000, "currency": "KRW", "message": 42}
            ),
            OpenApiExample(
                "Tip a room member",
                value={"amount": 5000, "currency": "KRW", "membership": 7, "note": "Thanks!"},
            ),
            OpenApiExample("Tip a user", value={"amount": 500, "currency": "KRW", "user": "mina"}),
        ],
    )
    def post(self, request):
        return super().post(request)

    def operate(self, data):
        tip, recipient = services.send_tip(
            sender=self.request.user,
            amount=data["amount"],
            currency=data["currency"],
            message_id=data.get("message"),
            membership_id=data.get("membership"),
            recipient_handle=data.get("user"),
            note=data.get("note", ""),
        )
        return responses.tip_body(tip, recipient)


class TipQuoteView(APIView):
    """Before a tip from a message or a member: whom it goes to (by room nickname),
    preset amounts in the tipper's currency, their balance, and for ``amount`` the
    platform fee and what the recipient receives. Moves no money. 404 for a message or
    member the viewer cannot tip (not in the room, or no such one)."""

    @extend_schema(
        parameters=[TipQuoteQuerySerializer],
        responses={200: TipQuoteSerializer},
    )
    def get(self, request):
        query = TipQuoteQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        recipient = services.find_recipient(
            sender=request.user,
            message_id=data.get("message"),
            membership_id=data.get("membership"),
        )
        currency = validate_currency(
            data.get("currency") or selectors.spending_currency(request.user)
        )
        return Response(
            selectors.tip_quote(
                user_id=request.user.pk,
                recipient_membership_id=recipient.membership_id,
                recipient_name=recipient.label,
                currency=currency,
                amount=data.get("amount"),
            )
        )


class PayoutView(IdempotentOperationView):
    serializer_class = PayoutSerializer
    scope = "payout"

    @extend_schema(
        request=PayoutSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: PayoutResultSerializer},
        examples=[OpenApiExample("Pay out", value={"amount": 50000, "currency": "KRW"})],
    )
    def post(self, request):
        return super().post(request)

    def operate(self, data):
        payout = services.request_payout(
            user=self.request.user, amount=data["amount"], currency=data["currency"]
        )
        return responses.payout_body(payout)


class RefundView(IdempotentOperationView):
    """Reverse a transfer: a creator refunds a tip they received; staff holding the
    ``commerce.reverse_transfer`` permission any reversible transfer. Others get 404."""

    serializer_class = RefundSerializer
    scope = "refund"

    @extend_schema(
        request=RefundSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: RefundResultSerializer},
        examples=[OpenApiExample("Refund a tip", value={"transfer": 42})],
    )
    def post(self, request):
        return super().post(request)

    def operate(self, data):
        reversal = services.refund_transfer(actor=self.request.user, transfer_id=data["transfer"])
        return responses.refund_body(reversal)


class CancelRenewalView(APIView):
    """Stop renewing a monthly room membership; access lasts until ``paid_until``.

    Idempotent: cancelling again answers the same. 404 when the user has no monthly
    membership of the room.
    """

    @extend_schema(request=None, responses={200: RoomAccessSerializer})
    def post(self, request, room_id: int):
        access = services.cancel_renewal(user=request.user, room_id=room_id)
        return Response(RoomAccessSerializer(access).data)


class ResumeRenewalView(APIView):
    """Renew again a monthly membership whose renewal was cancelled, while its paid month
    lasts. Idempotent. 404 without a monthly membership of the room; 400
    ``membership_ended`` once it ended (buy it again), ``not_for_sale`` when the room no
    longer sells memberships."""

    @extend_schema(request=None, responses={200: RoomAccessSerializer})
    def post(self, request, room_id: int):
        access = services.resume_renewal(user=request.user, room_id=room_id)
        return Response(RoomAccessSerializer(access).data)


def _visible_room_or_404(request, room_id: int, invite: str = ""):
    room = room_visible_to(room_id=room_id, viewer=request.user, invite_code=invite)
    if room is None:  # private rooms are missing to outsiders, as everywhere else
        raise NotFoundError(_("Room not found."))
    return room


class RoomPurchaseStateView(APIView):
    """A room's price (``null``: free) and my access to it, before a checkout."""

    @extend_schema(
        parameters=[OpenApiParameter("invite", str, description="A private room's invite.")],
        responses={200: RoomPurchaseStateSerializer},
    )
    def get(self, request, room_id: int):
        room = _visible_room_or_404(request, room_id, request.query_params.get("invite", ""))
        price = selectors.active_room_price(room_id=room.pk)
        access = selectors.room_access_of(user_id=request.user.pk, room_id=room.pk)
        return Response(
            {
                "room": room.pk,
                "price": (
                    {"kind": price.kind, "amount": price.amount, "currency": price.currency}
                    if price
                    else None
                ),
                "has_access": services.rooms.has_room_access(
                    user_id=request.user.pk, room_id=room.pk
                ),
                "access": RoomAccessSerializer(access).data if access else None,
            }
        )


class RoomPurchaseView(APIView):
    """Pay a room's price from the wallet (its entry or the first month), once per
    Idempotency-Key; buying again while access is current charges nothing and answers
    the current access. 404 for a room one cannot see or that is not for sale, 403
    ``banned``, 422 ``insufficient_funds``; then ``POST rooms/<id>/join/``."""

    throttle_scope = "money"

    @extend_schema(
        request=RoomPurchaseSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: RoomAccessSerializer},
    )
    def post(self, request, room_id: int):
        serializer = RoomPurchaseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        room = _visible_room_or_404(request, room_id, serializer.validated_data.get("invite", ""))
        result = run_idempotent(
            user_id=request.user.pk,
            key=request.headers.get("Idempotency-Key"),
            scope="room_purchase",
            params={"room": room.pk},
            operation=lambda: (
                status.HTTP_201_CREATED,
                RoomAccessSerializer(
                    services.purchase_room_access(user=request.user, room_id=room.pk)
                ).data,
            ),
        )
        response = Response(result.body, status=result.status)
        if result.replayed:
            response["Idempotent-Replayed"] = "true"
        return response
