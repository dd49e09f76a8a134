import uuid
from decimal import Decimal

from django import forms

from apps.core.money import credits_to_micro

MAX_ADJUSTMENT_CREDITS = Decimal(10_000_000)


class AdjustCreditsForm(forms.Form):
    amount = forms.DecimalField(
        label="Credits",
        max_digits=16,
        decimal_places=6,
        help_text="Positive grants credits, negative deducts them (never below what is held).",
    )
    reason = forms.CharField(
        max_length=500, help_text="Shown to the user on their dashboard and kept in the ledger."
    )
    # One token per rendered form: submitting the same form twice applies it once.
    token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError("Enter a non-zero amount.")
        if abs(amount) > MAX_ADJUSTMENT_CREDITS:
            raise forms.ValidationError("At most 10,000,000 credits at a time.")
        return amount

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Say why.")
        return reason

    @property
    def amount_micro(self) -> int:
        return credits_to_micro(self.cleaned_data["amount"])
