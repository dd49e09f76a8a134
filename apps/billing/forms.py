from decimal import Decimal

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from apps.core.money import credits_to_micro


class TopUpForm(forms.Form):
    dollars = forms.IntegerField(
        label=_("Amount (US$)"),
        help_text=_("Whole dollars; 1 US$ buys 100 credits."),
        widget=forms.NumberInput(attrs={"step": 1, "inputmode": "numeric"}),
        error_messages={"invalid": _("Enter a whole number of dollars, e.g. 20.")},
    )

    def clean_dollars(self):
        dollars = self.cleaned_data["dollars"]
        low, high = settings.CUSTOM_TOPUP_MIN_DOLLARS, settings.CUSTOM_TOPUP_MAX_DOLLARS
        if not low <= dollars <= high:
            raise forms.ValidationError(
                _("Choose from $%(low)s to $%(high)s.") % {"low": low, "high": f"{high:,}"}
            )
        return dollars


class LowBalanceForm(forms.Form):
    threshold = forms.DecimalField(
        label=_("Warn me below"),
        min_value=Decimal(0),
        max_value=Decimal(1_000_000),
        max_digits=12,
        decimal_places=4,
        help_text=_("credits; one e-mail when the balance falls below, 0 turns it off"),
    )

    @property
    def threshold_micro(self) -> int:
        return credits_to_micro(self.cleaned_data["threshold"])


class BudgetForm(forms.Form):
    budget = forms.DecimalField(
        label=_("Monthly budget"),
        required=False,
        min_value=Decimal("0.0001"),
        max_value=Decimal(100_000_000),
        max_digits=13,
        decimal_places=4,
        help_text=_("credits per calendar month (UTC); empty for no limit"),
    )

    @property
    def budget_micro(self) -> int | None:
        value = self.cleaned_data["budget"]
        return None if value is None else credits_to_micro(value)


class AutoTopUpForm(forms.Form):
    enabled = forms.BooleanField(label=_("Turn on auto top-up"), required=False)
    threshold = forms.DecimalField(
        label=_("When the balance falls below"),
        min_value=Decimal(0),
        max_value=Decimal(10_000_000),
        max_digits=12,
        decimal_places=4,
        help_text=_("credits"),
    )
    dollars = forms.IntegerField(
        label=_("Top up by (US$)"),
        help_text=_("Whole dollars, charged to your saved card."),
        widget=forms.NumberInput(attrs={"step": 1, "inputmode": "numeric"}),
    )

    def clean_dollars(self):
        return TopUpForm.clean_dollars(self)

    @property
    def threshold_micro(self) -> int:
        return credits_to_micro(self.cleaned_data["threshold"])
