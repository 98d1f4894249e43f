import uuid

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from commerce.models import RoomPrice
from config.currencies import parse_major_amount


def _currency_choices():
    return [(code, code) for code in settings.COMMERCE_CURRENCIES]


class IdempotentForm(forms.Form):
    """A money form carries a key minted when the page is shown: a double submit or a
    resubmitted page is then replayed, never charged twice."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=255)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("idempotency_key", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)


AMOUNT_HELP = _("As you would say it: 10.50 is $10.50, 1000 is ₩1,000.")


class AmountField(forms.CharField):
    """An amount in the currency's main unit, as typed (``10.50``, ``1,000``). The form's
    ``clean()`` turns it into minor units once the currency is known."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Amount"))
        kwargs.setdefault("help_text", AMOUNT_HELP)
        kwargs.setdefault("max_length", 40)
        super().__init__(
            widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
            **kwargs,
        )


def clean_amount_in_currency(form: forms.Form, data: dict) -> dict:
    """``data["amount"]`` (text) → minor units of ``data["currency"]``, or a field error."""
    if data.get("amount") not in (None, "") and data.get("currency"):
        try:
            data["amount"] = parse_major_amount(data["amount"], data["currency"])
        except forms.ValidationError as error:
            form.add_error("amount", error)
    return data


class MoneyForm(IdempotentForm):
    amount = AmountField()
    currency = forms.ChoiceField(label=_("Currency"), choices=_currency_choices)

    field_order = ["amount", "currency"]

    def __init__(self, *args, currency: str = "", **kwargs):
        # The person's own currency is the default (profiles: chosen at sign-up).
        if currency:
            kwargs.setdefault("initial", {}).setdefault("currency", currency)
        super().__init__(*args, **kwargs)

    def clean(self):
        return clean_amount_in_currency(self, super().clean())


class TopUpForm(MoneyForm):
    pass


class PayoutForm(MoneyForm):
    pass


class TipForm(MoneyForm):
    user = forms.CharField(label=_("Member handle"), required=False, max_length=31)
    message = forms.IntegerField(label=_("Message"), required=False, min_value=1)
    # A tip from the member list: the member's room membership, never their handle.
    membership = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    note = forms.CharField(
        label=_("Note (optional)"),
        required=False,
        max_length=140,
        help_text=_("Shown with your tip in the chat."),
    )
    # The second step: the tipper saw the fee and what the recipient receives.
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    field_order = ["user", "message", "membership", "amount", "currency", "note"]

    def __init__(self, *args, in_room: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if in_room:
            # Opened from a message or a member: the page names them; the ids ride along.
            self.fields["user"].widget = forms.HiddenInput()
            self.fields["message"].widget = forms.HiddenInput()
        else:
            del self.fields["note"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        targets = [bool(data.get("user")), bool(data.get("message")), bool(data.get("membership"))]
        if sum(targets) != 1:
            raise forms.ValidationError(_("Tip either a member or a message."))
        return data


class RoomAccessForm(IdempotentForm):
    pass


class RoomPriceForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=RoomPrice.Kind.choices)
    amount = AmountField(label=_("Price"))
    currency = forms.ChoiceField(label=_("Currency"), choices=_currency_choices)
    is_active = forms.BooleanField(label=_("Charge for entry"), required=False, initial=True)

    def clean(self):
        return clean_amount_in_currency(self, super().clean())
