from __future__ import annotations

import re
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone

from accounts.models import ApiKey, Membership

MICROS_PER_USD = 1_000_000
MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")


class KeyCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100, widget=forms.TextInput(attrs={"placeholder": "e.g. laptop, CI, claude-code"})
    )
    spend_limit_usd = forms.DecimalField(
        label="Spend limit (USD)", required=False, min_value=Decimal("0.01"), max_digits=12, decimal_places=2
    )
    limit_period = forms.ChoiceField(label="per", choices=ApiKey.Period.choices, initial=ApiKey.Period.MONTH)
    allowed_models = forms.CharField(
        required=False,
        help_text="Catalog model ids separated by commas or spaces (suggested as you type). Empty: every model.",
        # The page adds a datalist of catalog ids (templates/accounts/keys/_panel.html).
        widget=forms.TextInput(attrs={"list": "catalog-model-ids", "autocomplete": "off", "data-multi-list": ""}),
    )
    expires_on = forms.DateField(
        label="Expires on", required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="UTC, optional."
    )
    rpm_limit = forms.IntegerField(label="Requests per minute", required=False, min_value=1, max_value=1_000_000)
    concurrency_limit = forms.IntegerField(label="Concurrent requests", required=False, min_value=1, max_value=10_000)

    def clean_allowed_models(self) -> list[str]:
        ids = [m for m in re.split(r"[\s,]+", self.cleaned_data["allowed_models"]) if m]
        bad = [m for m in ids if not MODEL_ID.match(m) or len(m) > 200]
        if bad:
            raise forms.ValidationError(f"Not a model id: {', '.join(bad[:3])}")
        return list(dict.fromkeys(ids))

    def clean_expires_on(self) -> datetime | None:
        day = self.cleaned_data["expires_on"]
        if day is None:
            return None
        # The key works through the whole chosen day (UTC).
        expires = datetime.combine(day, time.max, tzinfo=UTC)
        if expires <= timezone.now():
            raise forms.ValidationError("Choose a date in the future.")
        return expires

    def limits(self) -> dict[str, Any]:
        data = self.cleaned_data
        spend = data["spend_limit_usd"]
        return {
            "spend_limit": int(spend * MICROS_PER_USD) if spend is not None else None,
            "limit_period": data["limit_period"] if spend is not None else ApiKey.Period.NEVER,
            "allowed_models": data["allowed_models"],
            "expires_at": data["expires_on"],
            "rpm_limit": data["rpm_limit"],
            "concurrency_limit": data["concurrency_limit"],
        }


class InviteForm(forms.Form):
    email = forms.EmailField(widget=forms.EmailInput(attrs={"placeholder": "teammate@example.com"}))
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


class OrgForm(forms.Form):
    name = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"placeholder": "Acme Inc."}))


class OrgSettingsForm(forms.Form):
    auto_cache = forms.BooleanField(
        required=False,
        label="Automatic prompt caching",
        help_text="For Claude models, mark the end of the tools, the system prompt and the last two user turns as "
        "cache breakpoints when a request sets none. Cached input is billed at a tenth of the input price.",
    )


class SwitchOrgForm(forms.Form):
    org = forms.IntegerField()
