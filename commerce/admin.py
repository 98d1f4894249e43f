from django.contrib import admin, messages
from django.db.models import Case, OuterRef, Subquery, Sum, When
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from commerce import services
from commerce.models import (
    Account,
    IdempotencyKey,
    Leg,
    PayoutRequest,
    RoomAccess,
    RoomPrice,
    Tip,
    TopUp,
    Transfer,
    WebhookEvent,
)
from commerce.reconciliation import check_ledger
from commerce.selectors import platform_fee_balances
from config.errors import DomainError


class ReadOnlyAdmin(admin.ModelAdmin):
    """The ledger is written by services only."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "kind",
        "shard",
        "user",
        "currency",
        "balance",
        "total_over_shards",
        "pending_debits",
        "allow_negative",
    ]
    list_filter = ["kind", "currency", "allow_negative"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    change_list_template = "admin/commerce/account/change_list.html"

    def get_queryset(self, request):
        # A creator's pending earnings are split over shards (Account.shard): on each
        # row, the sum over its shards, which is what the creator has pending.
        group = (
            Account.objects.filter(
                kind=OuterRef("kind"), user_id=OuterRef("user_id"), currency=OuterRef("currency")
            )
            .order_by()
            .values("kind")
            .annotate(total=Sum("balance"))
            .values("total")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                total_over_shards=Case(
                    When(kind=Account.Kind.EARNINGS_PENDING, then=Subquery(group)), default=None
                )
            )
        )

    @admin.display(description=_("Total over shards"), ordering="total_over_shards")
    def total_over_shards(self, account):
        return account.total_over_shards

    def changelist_view(self, request, extra_context=None):
        # The platform fee is split over shards (Account.shard): its total is their sum.
        extra_context = {**(extra_context or {}), "platform_fees": platform_fee_balances()}
        return super().changelist_view(request, extra_context=extra_context)

    def get_urls(self):
        return [
            path(
                "ledger-check/",
                self.admin_site.admin_view(self.ledger_check_view),
                name="commerce_ledger_check",
            ),
            *super().get_urls(),
        ]

    def ledger_check_view(self, request):
        context = {
            **self.admin_site.each_context(request),
            "title": _("Ledger check"),
            "problems": check_ledger(),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/commerce/ledger_check.html", context)


class LegInline(admin.TabularInline):
    model = Leg
    fields = ["account", "amount", "gross", "fee", "is_posted", "balance_after", "counterparty"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "phase", "created_at", "resolves", "reverses", "expires_at"]
    list_filter = ["kind", "phase"]
    inlines = [LegInline]
    actions = ["refund"]

    def has_reverse_permission(self, request) -> bool:
        # The action is offered only where the service would allow it.
        return services.may_reverse_any_transfer(user=request.user)

    @admin.action(description=_("Refund (post a reversal)"), permissions=["reverse"])
    def refund(self, request, queryset):
        for transfer in queryset:
            try:
                services.refund_transfer(actor=request.user, transfer_id=transfer.pk)
            except DomainError as error:
                self.message_user(request, f"#{transfer.pk}: {error.message}", messages.ERROR)
            else:
                self.message_user(request, _("Reversed #%s") % transfer.pk, messages.SUCCESS)


@admin.register(PayoutRequest)
class PayoutRequestAdmin(ReadOnlyAdmin):
    list_display = ["id", "user", "amount", "currency", "status", "created_at", "reviewed_by"]
    list_filter = ["status", "currency"]
    list_select_related = ["user", "reviewed_by"]
    actions = ["approve", "reject", "settle"]

    def _apply(self, request, queryset, operation, done):
        for payout in queryset:
            try:
                operation(payout_id=payout.pk, reviewer=request.user)
            except DomainError as error:
                self.message_user(request, f"#{payout.pk}: {error.message}", messages.ERROR)
            else:
                self.message_user(request, f"#{payout.pk}: {done}", messages.SUCCESS)

    @admin.action(description=_("Approve (post the hold)"))
    def approve(self, request, queryset):
        self._apply(request, queryset, services.approve_payout, _("approved"))

    @admin.action(description=_("Reject (void the hold)"))
    def reject(self, request, queryset):
        self._apply(request, queryset, services.reject_payout, _("rejected"))

    @admin.action(description=_("Mark settled (money sent)"))
    def settle(self, request, queryset):
        self._apply(request, queryset, services.settle_payout, _("settled"))


@admin.register(RoomPrice)
class RoomPriceAdmin(admin.ModelAdmin):
    list_display = ["room", "kind", "amount", "currency", "is_active"]
    list_select_related = ["room"]
    raw_id_fields = ["room"]


@admin.register(RoomAccess)
class RoomAccessAdmin(ReadOnlyAdmin):
    list_display = ["user", "room", "kind", "paid_until", "renews", "lapsed_at"]
    list_select_related = ["user", "room"]


@admin.register(TopUp)
class TopUpAdmin(ReadOnlyAdmin):
    list_display = ["id", "user", "amount", "currency", "provider", "status", "created_at"]
    list_select_related = ["user"]
    list_filter = ["status", "provider"]


@admin.register(Tip)
class TipAdmin(ReadOnlyAdmin):
    list_display = ["id", "sender", "recipient", "amount", "fee", "currency", "created_at"]
    list_select_related = ["sender", "recipient"]


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["provider", "event_id", "event_type", "received_at"]


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdmin):
    list_display = ["user", "key", "scope", "state", "response_status", "created_at"]
    list_select_related = ["user"]
