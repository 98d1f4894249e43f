"""Wallet pages. Money-moving forms go through the same idempotency as the API."""

import csv
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseBadRequest, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from commerce import providers, responses, selectors, services
from commerce.fees import split_fee
from commerce.forms import PayoutForm, RoomAccessForm, RoomPriceForm, TipForm, TopUpForm
from commerce.models import Account, RoomPrice
from commerce.providers.base import WebhookSignatureError
from commerce.services.idempotency import run_idempotent
from commerce.services.payouts import earnings_hold
from commerce.services.tips import Recipient
from community import access
from community.rooms.models import Room
from community.rooms.selectors import room_visible_to
from config.currencies import (
    currency_for_request,
    format_minor,
    minor_to_input,
)
from config.errors import DomainError

STATEMENT_PAGE_SIZE = 50


def _run_form(request, form, *, scope: str, params: dict, operation) -> dict | None:
    """Run a money form's operation once; errors are shown on the form, which then
    carries a fresh key, so a corrected resubmission is a new request, not a replay."""
    try:
        result = run_idempotent(
            user_id=request.user.pk,
            key=form.cleaned_data["idempotency_key"],
            scope=f"web:{scope}",
            params=params,
            operation=lambda: (201, operation()),
        )
    except DomainError as error:
        message = error.message
    else:
        if result.status < 400:
            return result.body
        message = result.body["error"]["message"]
    form.add_error(None, message)
    form.data = form.data.copy()
    form.data["idempotency_key"] = uuid.uuid4().hex
    return None


@login_required
def wallet(request):
    return render(
        request,
        "commerce/wallet.html",
        {
            "balances": selectors.wallet_balances(user_id=request.user.pk),
            "lines": selectors.statement_lines(user_id=request.user.pk)[:10],
            "payouts": selectors.payout_requests(user_id=request.user.pk)[:10],
        },
    )


def _return_to(request) -> str | None:
    """Where to go back after a money form (``next``: a checkout, a tip sheet's room),
    only on this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


@login_required
def topup(request):
    # A checkout or a tip sheet that found the wallet short links here with the
    # amount missing and the currency, and a ``next`` to come back to.
    initial = {key: request.GET[key] for key in ("amount", "currency") if request.GET.get(key)}
    form = TopUpForm(
        request.POST or None,
        initial=initial,
        currency=selectors.preferred_currency(request.user),
    )
    next_url = _return_to(request)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        body = _run_form(
            request,
            form,
            scope="topup",
            params={"amount": data["amount"], "currency": data["currency"]},
            operation=lambda: responses.topup_body(
                services.create_topup(
                    user=request.user, amount=data["amount"], currency=data["currency"]
                )
            ),
        )
        if body is not None:
            messages.success(
                request,
                _("Added %(amount)s to your wallet.")
                % {"amount": format_minor(body["amount"], body["currency"])},
            )
            return redirect(next_url or "commerce:wallet")
    return render(
        request,
        "commerce/topup.html",
        {"form": form, "unavailable": providers.unavailable_reason(), "next_url": next_url},
    )


def _tip_recipient_from_query(request) -> Recipient | None:
    """The recipient a tip page opened from a message or the member list names (by
    room nickname); None for a bare page, 404 for one the viewer may not tip."""
    params = request.POST if request.method == "POST" else request.GET
    message_id, membership_id = params.get("message", ""), params.get("membership", "")
    try:
        if membership_id.isdigit():
            return services.recipient_of_membership(
                sender=request.user, membership_id=int(membership_id)
            )
        if message_id.isdigit():
            return services.find_recipient(sender=request.user, message_id=int(message_id))
    except DomainError as error:
        if error.status == 404:
            raise Http404(error.message) from error
        messages.error(request, error.message)
    return None


@login_required
def tip(request):
    recipient = _tip_recipient_from_query(request)
    # A preset amount is a link (``&amount=5000``): one tap fills the form, no script.
    initial = {
        key: request.GET[key]
        for key in ("user", "message", "membership", "amount")
        if key in request.GET
    }
    currency = selectors.spending_currency(request.user)
    form = TipForm(
        request.POST or None,
        initial=initial,
        currency=currency,
        in_room=recipient is not None and recipient.room_id is not None,
    )
    confirm = None
    # "Change" on the confirm step comes back with the form filled in.
    submitted = request.method == "POST" and request.POST.get("back") != "1"
    if submitted and form.is_valid() and not form.cleaned_data["confirmed"]:
        # The confirm step: what leaves the wallet, the fee, what the recipient receives.
        data = form.cleaned_data
        split = split_fee(data["amount"])
        confirm = {
            "amount": format_minor(split.gross, data["currency"]),
            "fee": format_minor(split.fee, data["currency"]),
            "net": format_minor(split.net, data["currency"]),
            "note": data.get("note") or "",
            "name": recipient.label if recipient else "@" + (data.get("user") or "").lstrip("@"),
        }
    elif submitted and form.is_valid():
        data = form.cleaned_data
        body = _run_form(
            request,
            form,
            scope="tip",
            params={
                "amount": data["amount"],
                "currency": data["currency"],
                "user": data.get("user") or None,
                "message": data.get("message"),
                "membership": data.get("membership"),
                "note": data.get("note") or "",
            },
            operation=lambda: responses.tip_body(
                *services.send_tip(
                    sender=request.user,
                    amount=data["amount"],
                    currency=data["currency"],
                    message_id=data.get("message"),
                    membership_id=data.get("membership"),
                    recipient_handle=data.get("user") or None,
                    note=data.get("note") or "",
                )
            ),
        )
        if body is not None:
            messages.success(
                request,
                _("You tipped %(name)s %(amount)s.")
                % {
                    "name": body["recipient"]["name"],
                    "amount": format_minor(body["amount"], body["currency"]),
                },
            )
            if recipient is not None and recipient.room_id is not None:
                return redirect("room-detail", room_id=recipient.room_id)
            return redirect("commerce:wallet")
        form.data["confirmed"] = ""  # a refusal goes back to the form, not the confirm step
    presets = selectors.tip_presets(form["currency"].value() or currency)
    query = request.GET.copy()
    for preset in presets:
        query["amount"] = preset["input"]
        preset["url"] = f"?{query.urlencode()}"
    return render(
        request,
        "commerce/tip.html",
        {
            "form": form,
            "recipient": recipient,
            "confirm": confirm,
            "presets": presets,
            "fee_percent": selectors.fee_schedule()["rate_percent"],
        },
    )


def _payout_currency(user) -> str:
    """The currency with the most earnings available, else the person's own."""
    account = (
        Account.objects.filter(user_id=user.pk, kind=Account.Kind.EARNINGS_AVAILABLE, balance__gt=0)
        .order_by("-balance")
        .only("currency")
        .first()
    )
    return account.currency if account else selectors.preferred_currency(user)


@login_required
def payout(request):
    form = PayoutForm(request.POST or None, currency=_payout_currency(request.user))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        body = _run_form(
            request,
            form,
            scope="payout",
            params={"amount": data["amount"], "currency": data["currency"]},
            operation=lambda: responses.payout_body(
                services.request_payout(
                    user=request.user, amount=data["amount"], currency=data["currency"]
                )
            ),
        )
        if body is not None:
            messages.success(request, _("Payout requested; staff will review it."))
            return redirect("commerce:wallet")
    balances = selectors.wallet_balances(user_id=request.user.pk)
    holds = [
        hold
        for row in balances
        if row["earnings_pending"] > 0
        for hold in [earnings_hold(user_id=request.user.pk, currency=row["currency"], amount=1)]
        if hold is not None
    ]
    return render(
        request,
        "commerce/payout.html",
        {
            "form": form,
            "balances": balances,
            "holds": holds,
        },
    )


@login_required
def statement(request):
    lines = selectors.statement_lines(
        user_id=request.user.pk, currency=request.GET.get("currency") or None
    )
    before = request.GET.get("before", "")
    if before.isdigit():
        lines = lines.filter(pk__lt=int(before))
    page = list(lines[: STATEMENT_PAGE_SIZE + 1])
    has_more = len(page) > STATEMENT_PAGE_SIZE
    page = page[:STATEMENT_PAGE_SIZE]
    return render(
        request,
        "commerce/statement.html",
        {
            "lines": page,
            "next_before": page[-1].pk if has_more else None,
            "currency": request.GET.get("currency", ""),
        },
    )


class _Echo:
    def write(self, value):
        return value


@login_required
def statement_csv(request):
    lines = selectors.statement_lines(
        user_id=request.user.pk, currency=request.GET.get("currency") or None
    ).order_by("id")
    writer = csv.writer(_Echo())
    header = [
        "date",
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

    def rows():
        yield writer.writerow(header)
        for line in lines.iterator(chunk_size=500):
            yield writer.writerow(
                [
                    line.created_at.isoformat(),
                    line.transfer_id,
                    line.transfer.kind,
                    _csv_safe(line.transfer.description),
                    _csv_safe(line.counterparty_label()),
                    line.account.kind,
                    line.currency,
                    line.gross,
                    line.statement_fee,
                    line.amount,
                    line.running_balance,
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="moim-statement.csv"'
    return response


def _csv_safe(text: str) -> str:
    # A cell starting with = + - @ runs as a formula in spreadsheets.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def fee_schedule(request):
    examples = [split_fee(amount) for amount in (1, 9, 10, 15, 99, 100, 1000, 1234)]
    currency = (
        selectors.preferred_currency(request.user)
        if request.user.is_authenticated
        else currency_for_request(request)
    )
    return render(
        request,
        "commerce/fees.html",
        {"schedule": selectors.fee_schedule(), "examples": examples, "currency": currency},
    )


@login_required
def room_access(request, room_id: int):
    """A paid room's checkout: its price and terms, the wallet's balance (a top-up link
    for what is missing), and one confirm that pays; then on to joining."""
    # A private room is missing to whoever is not in it, unless they hold a usable invite
    # (``?invite=<code>``): the same 404 as no room at all.
    invite = request.GET.get("invite", "")
    room = room_visible_to(room_id=room_id, viewer=request.user, invite_code=invite)
    if room is None:
        raise Http404(_("Room not found."))
    price = selectors.active_room_price(room_id=room.pk)
    join_url = reverse("room-join", args=[room.pk])
    if invite:
        join_url += "?" + urlencode({"invite": invite})
    form = RoomAccessForm(request.POST or None)
    if request.method == "POST" and price is not None and form.is_valid():
        body = _run_form(
            request,
            form,
            scope=f"room:{room.pk}",
            params={"room": room.pk},
            operation=lambda: {
                "access": services.purchase_room_access(user=request.user, room_id=room.pk).pk
            },
        )
        if body is not None:
            messages.success(request, _("Paid. Pick your nickname to join the room."))
            if room.viewer_membership_id:
                return redirect("room-detail", room_id=room.pk)
            return redirect(join_url)
    balance = 0
    if price is not None:
        balance = next(
            (
                row["wallet"]
                for row in selectors.wallet_balances(user_id=request.user.pk)
                if row["currency"] == price.currency
            ),
            0,
        )
    shortfall = max(0, price.amount - balance) if price is not None else 0
    topup_url = ""
    if shortfall:
        topup_url = (
            reverse("commerce:topup")
            + "?"
            + urlencode(
                {
                    "amount": minor_to_input(shortfall, price.currency),
                    "currency": price.currency,
                    "next": request.get_full_path(),
                }
            )
        )
    access = selectors.room_access_of(user_id=request.user.pk, room_id=room.pk)
    return render(
        request,
        "commerce/room_access.html",
        {
            "room": room,
            "price": price,
            "form": form,
            "has_access": services.rooms.has_room_access(user_id=request.user.pk, room_id=room.pk),
            "is_owner": room.owner_id == request.user.pk,
            "access": access,
            "balance": balance,
            "shortfall": shortfall,
            "topup_url": topup_url,
            "join_url": join_url,
        },
    )


@login_required
@require_POST
def cancel_renewal(request, room_id: int):
    """Stop renewing the monthly membership; it lasts until the paid period ends."""
    try:
        access = services.cancel_renewal(user=request.user, room_id=room_id)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("Renewal cancelled. Your membership lasts until %(date)s.")
            % {"date": date_format(localtime(access.paid_until), "SHORT_DATETIME_FORMAT")},
        )
    return redirect(_return_to(request) or reverse("commerce:room_access", args=[room_id]))


@login_required
@require_POST
def resume_renewal(request, room_id: int):
    """Keep a cancelled monthly membership: it renews again at the end of the month."""
    try:
        access = services.resume_renewal(user=request.user, room_id=room_id)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("Renewal is back on. Your membership renews on %(date)s.")
            % {"date": date_format(localtime(access.paid_until), "SHORT_DATETIME_FORMAT")},
        )
    return redirect(_return_to(request) or reverse("commerce:room_access", args=[room_id]))


@login_required
def room_price(request, room_id: int):
    room = get_object_or_404(Room, pk=room_id)
    if room.owner_id != request.user.pk:
        # Someone outside a private room learns nothing, not even that it exists.
        if access.room_is_hidden_from_non_members(room) and not access.active_membership(
            room_id=room.pk, user=request.user
        ):
            raise Http404(_("Room not found."))
        raise PermissionDenied
    price = (
        selectors.active_room_price(room_id=room.pk) or RoomPrice.objects.filter(room=room).first()
    )
    initial = (
        {
            "kind": price.kind,
            "amount": minor_to_input(price.amount, price.currency),
            "currency": price.currency,
            "is_active": price.is_active,
        }
        if price
        else {"currency": selectors.preferred_currency(request.user)}
    )
    form = RoomPriceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.set_room_price(actor=request.user, room_id=room.pk, **form.cleaned_data)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Room price saved."))
            return redirect("commerce:room_price", room_id=room.pk)
    return render(request, "commerce/room_price.html", {"room": room, "form": form})


@login_required
@require_POST
def refund(request, transfer_id: int):
    """A creator refunds a tip they received (staff refund anything in the admin)."""
    try:
        services.refund_transfer(actor=request.user, transfer_id=transfer_id)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Refunded."))
    return redirect("commerce:statement")


@csrf_exempt
@require_POST
def webhook(request, provider: str):
    try:
        outcome = services.handle_webhook(
            provider_name=provider, body=request.body, headers=request.headers
        )
    except WebhookSignatureError:
        return HttpResponseBadRequest(b"invalid signature")
    except DomainError as error:
        return JsonResponse({"error": error.message}, status=error.status)
    return JsonResponse({"outcome": outcome})
