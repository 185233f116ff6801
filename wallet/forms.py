from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django import forms
from django.conf import settings

from wallet.autotopup import NEEDS_CARD
from wallet.money import usd_to_micros


def _usd_field(label: str, *, minimum: int | None = None, maximum: int | None = None, **kwargs) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        min_value=Decimal(minimum) if minimum is not None else Decimal(0),
        max_value=Decimal(maximum) if maximum is not None else None,
        decimal_places=2,
        max_digits=9,
        **kwargs,
    )


class TopupForm(forms.Form):
    amount_usd = forms.DecimalField(label="Amount (USD)", decimal_places=2, max_digits=9)

    def clean_amount_usd(self) -> Decimal:
        amount = self.cleaned_data["amount_usd"]
        low, high = settings.TOPUP_MIN_USD, settings.TOPUP_MAX_USD
        if not low <= amount <= high:
            raise forms.ValidationError(f"Top up between ${low} and ${high}.")
        return amount

    @property
    def micros(self) -> int:
        return usd_to_micros(self.cleaned_data["amount_usd"])


class LowBalanceForm(forms.Form):
    alert_usd = _usd_field("Email me when the balance drops below (USD; 0 turns it off)")


class AutoTopupForm(forms.Form):
    enabled = forms.BooleanField(label="Turn on auto top-up", required=False)
    threshold_usd = _usd_field("When the balance drops below (USD)")
    amount_usd = forms.DecimalField(label="add (USD)", decimal_places=2, max_digits=9)

    def __init__(self, *args, has_card: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.has_card = has_card

    def clean(self) -> dict[str, Any]:
        data = cast("dict[str, Any]", super().clean())  # Form.clean returns cleaned_data, never None
        amount = data.get("amount_usd")
        low, high = settings.TOPUP_MIN_USD, settings.TOPUP_MAX_USD
        if amount is not None and not low <= amount <= high:
            self.add_error("amount_usd", f"Between ${low} and ${high}.")
        if data.get("enabled") and not self.has_card:
            raise forms.ValidationError(NEEDS_CARD)
        return data
