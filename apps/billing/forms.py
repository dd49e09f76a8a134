import uuid
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


class RedeemForm(forms.Form):
    code = forms.CharField(
        label=_("Redemption code"),
        max_length=100,
        strip=True,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": "ocx-redeem-…"}
        ),
    )


class LowBalanceForm(forms.Form):
    threshold = forms.DecimalField(
        label=_("Warn me below"),
        min_value=Decimal(0),
        max_value=Decimal(1_000_000),
        max_digits=12,
        decimal_places=4,
        help_text=_("Credits; one e-mail when the balance falls below, 0 turns it off."),
    )

    @property
    def threshold_micro(self) -> int:
        return credits_to_micro(self.cleaned_data["threshold"])


class BudgetForm(forms.Form):
    budget = forms.DecimalField(
        label=_("Monthly budget"),
        required=False,
        min_value=Decimal(0),
        max_value=Decimal(100_000_000),
        max_digits=13,
        decimal_places=4,
        help_text=_("Credits per calendar month (UTC); 0 stops all API usage, empty for no limit."),
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
        help_text=_("Credits."),
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


class RedemptionBatchForm(forms.Form):
    """Staff create a batch of redemption codes (the admin; English only, like the rest)."""

    count = forms.IntegerField(
        min_value=1, help_text="How many codes (each is shown once, in the CSV you download)."
    )
    credits = forms.DecimalField(
        label="Credits each",
        min_value=Decimal("0.000001"),
        max_value=Decimal(1_000_000),
        max_digits=13,
        decimal_places=6,
    )
    expires_at = forms.DateTimeField(
        label="Expires at",
        required=False,
        help_text="UTC, e.g. 2026-12-31 23:59. Empty: the codes never expire.",
    )
    one_per_account = forms.BooleanField(
        label="At most one code of this batch per account", required=False
    )
    reseller = forms.CharField(
        max_length=100,
        required=False,
        help_text="Who sells or gives the codes; named with the batch in the user's ledger.",
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    # One per rendered form: a second submission of the same form creates nothing.
    token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)

    def clean_count(self):
        count = self.cleaned_data["count"]
        if count > settings.REDEEM_BATCH_MAX_CODES:
            raise forms.ValidationError(
                f"At most {settings.REDEEM_BATCH_MAX_CODES:,} codes in one batch."
            )
        return count

    @property
    def credits_micro(self) -> int:
        return credits_to_micro(self.cleaned_data["credits"])
