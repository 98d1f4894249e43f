import uuid

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from commerce.models import RoomPrice


def _currency_choices():
    return [(code, code) for code in settings.COMMERCE_CURRENCIES]


class IdempotentForm(forms.Form):
    """A money form carries a key minted when the page is shown: a double submit or a
    resubmitted page is then replayed, never charged twice."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=255)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("idempotency_key", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)


class MoneyForm(IdempotentForm):
    amount = forms.IntegerField(
        label=_("Amount"),
        min_value=1,
        help_text=_("In the currency's smallest unit (cents, won, yen)."),
    )
    currency = forms.ChoiceField(label=_("Currency"), choices=_currency_choices)

    field_order = ["amount", "currency"]


class TopUpForm(MoneyForm):
    pass


class PayoutForm(MoneyForm):
    pass


class TipForm(MoneyForm):
    user = forms.CharField(label=_("Member handle"), required=False, max_length=31)
    message = forms.IntegerField(label=_("Message"), required=False, min_value=1)

    field_order = ["user", "message", "amount", "currency"]

    def clean(self):
        data = super().clean()
        if bool(data.get("user")) == bool(data.get("message")):
            raise forms.ValidationError(_("Tip either a member or a message."))
        return data


class RoomAccessForm(IdempotentForm):
    pass


class RoomPriceForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=RoomPrice.Kind.choices)
    amount = forms.IntegerField(
        label=_("Price"),
        min_value=1,
        help_text=_("In the currency's smallest unit (cents, won, yen)."),
    )
    currency = forms.ChoiceField(label=_("Currency"), choices=_currency_choices)
    is_active = forms.BooleanField(label=_("Charge for entry"), required=False, initial=True)
