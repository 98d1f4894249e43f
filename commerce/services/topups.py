"""Top-ups: money enters the ledger from the payment provider's clearing account."""

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from commerce.models import Account, TopUp, Transfer, WebhookEvent
from commerce.providers import get_provider
from commerce.services.ledger import (
    LegSpec,
    atomic_with_retry,
    check_may_move_money,
    system_account,
    write_transfer,
)
from commerce.services.ledger import user_account as get_user_account
from config.currencies import validate_currency, validate_topup_amount
from config.errors import ConflictError
from profiles.models import User


@atomic_with_retry
def confirm_topup(*, topup_id: int) -> TopUp:
    """Credit a top-up's wallet once; a second confirmation is a no-op."""
    topup = TopUp.objects.select_for_update().get(pk=topup_id)
    if topup.status == TopUp.Status.SUCCEEDED:
        return topup
    if topup.status == TopUp.Status.FAILED:
        raise ConflictError(_("This top-up has failed."), code="topup_failed")
    clearing = system_account(kind=Account.Kind.PROVIDER_CLEARING, currency=topup.currency)
    wallet = get_user_account(
        user_id=topup.user_id, kind=Account.Kind.WALLET, currency=topup.currency
    )
    label = _("Top-up via %(provider)s") % {"provider": topup.provider}

    def describe(transfer: Transfer) -> None:
        topup.transfer, topup.status = transfer, TopUp.Status.SUCCEEDED
        topup.save(update_fields=["transfer", "status", "updated_at"])

    write_transfer(
        kind=Transfer.Kind.TOPUP,
        legs=[
            LegSpec(account=clearing, amount=-topup.amount, counterparty=f"topup {topup.pk}"),
            LegSpec(account=wallet, amount=topup.amount, counterparty=label),
        ],
        initiated_by_id=topup.user_id,
        description=label,
        describe=describe,
    )
    return topup


@atomic_with_retry
def fail_topup(*, topup_id: int) -> TopUp:
    topup = TopUp.objects.select_for_update().get(pk=topup_id)
    if topup.status == TopUp.Status.CREATED:
        topup.status = TopUp.Status.FAILED
        topup.save(update_fields=["status", "updated_at"])
    return topup


@atomic_with_retry
def create_topup(
    *, user: User, amount: int, currency: str, provider_name: str | None = None
) -> TopUp:
    """Start a top-up; the sandbox confirms at once, so the wallet is credited on return."""
    check_may_move_money(user=user)
    currency = validate_currency(currency)
    amount = validate_topup_amount(amount, currency)
    provider = get_provider(provider_name)
    topup = TopUp.objects.create(
        user=user, amount=amount, currency=currency, provider=provider.name
    )
    result = provider.create_payment(topup_id=topup.pk, amount=amount, currency=currency)
    topup.provider_reference = result.reference
    topup.save(update_fields=["provider_reference", "updated_at"])
    if result.status == "succeeded":
        return confirm_topup(topup_id=topup.pk)
    if result.status == "failed":
        return fail_topup(topup_id=topup.pk)
    return topup


@atomic_with_retry
def _record_and_apply(*, provider_name: str, event) -> str:
    try:
        with transaction.atomic():
            WebhookEvent.objects.create(
                provider=provider_name,
                event_id=event.event_id,
                event_type=event.event_type,
                payload=event.payload,
            )
    except IntegrityError:
        return "duplicate"
    topup = (
        TopUp.objects.filter(provider=provider_name, provider_reference=event.reference)
        .only("pk")
        .first()
    )
    if topup is None:
        return "ignored"
    if event.event_type == "payment.succeeded":
        confirm_topup(topup_id=topup.pk)
        return "applied"
    if event.event_type == "payment.failed":
        fail_topup(topup_id=topup.pk)
        return "applied"
    return "ignored"


def handle_webhook(*, provider_name: str, body: bytes, headers) -> str:
    """Verify a provider webhook and apply it once. Raises ``WebhookSignatureError``."""
    provider = get_provider(provider_name)
    event = provider.parse_webhook(body=body, headers=headers)
    return _record_and_apply(provider_name=provider.name, event=event)
