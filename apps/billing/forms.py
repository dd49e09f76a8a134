from decimal import Decimal

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from apps.core.money import credits_to_micro

from .currencies import NAMES, SYMBOLS, currencies, custom_range, money, packs


class TopUpForm(forms.Form):
    """A pack (its credits) or an amount of whole units, in one of the sold currencies."""

    currency = forms.ChoiceField(choices=(), widget=forms.HiddenInput)
    pack = forms.IntegerField(required=False, widget=forms.HiddenInput)
    amount = forms.IntegerField(
        label=_("Amount"),
        required=False,
        widget=forms.NumberInput(attrs={"step": 1, "inputmode": "numeric"}),
        error_messages={"invalid": _("Enter a whole amount, e.g. 20.")},
    )

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(c, NAMES.get(c, c.upper())) for c in currencies()]
        self.fields["currency"].initial = currency
        self.currency = currency
        low, high, rate = custom_range(currency)
        self.fields["amount"].help_text = _(
            "Whole amounts; each %(unit)s buys %(rate)s credits."
        ) % {"unit": money(100, currency, whole=True), "rate": rate}
        self.fields["amount"].widget.attrs.update({"min": low, "max": high})

    def clean(self):
        data = super().clean()
        currency = data.get("currency")
        if not currency:
            return data
        self.currency = currency
        pack, amount = data.get("pack"), data.get("amount")
        if pack is not None:
            if pack not in {p.credits for p in packs(currency)}:
                raise forms.ValidationError(_("Choose one of the packs."))
            return data
        if amount is None:
            if "amount" not in self.errors:
                self.add_error("amount", forms.ValidationError(_("This field is required.")))
            return data
        low, high, _rate = custom_range(currency)
        if not low <= amount <= high:
            self.add_error(
                "amount",
                _("Choose from %(low)s to %(high)s.")
                % {
                    "low": money(low * 100, currency, whole=True),
                    "high": money(high * 100, currency, whole=True),
                },
            )
        return data


class CurrencyForm(forms.Form):
    currency = forms.ChoiceField(label=_("Currency"), choices=())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [
            (c, f"{NAMES.get(c, c.upper())} ({SYMBOLS.get(c, c.upper())})") for c in currencies()
        ]


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
        dollars = self.cleaned_data["dollars"]
        low, high = settings.CUSTOM_TOPUP_MIN_DOLLARS, settings.CUSTOM_TOPUP_MAX_DOLLARS
        if not low <= dollars <= high:
            raise forms.ValidationError(
                _("Choose from $%(low)s to $%(high)s.") % {"low": low, "high": f"{high:,}"}
            )
        return dollars

    @property
    def threshold_micro(self) -> int:
        return credits_to_micro(self.cleaned_data["threshold"])
