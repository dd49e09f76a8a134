from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.core.money import MICRO
from apps.core.timezones import TIME_ZONES

from .models import Membership

ROLE_CHOICES = Membership.Role.choices

TIME_ZONE_CHOICES = [(z, z) for z in sorted(TIME_ZONES)]


class OrganizationForm(forms.Form):
    name = forms.CharField(label=_("Organization name"), max_length=100)


class OrgSettingsForm(forms.Form):
    name = forms.CharField(label=_("Organization name"), max_length=100)
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=TIME_ZONE_CHOICES)


class BillingDetailsForm(forms.Form):
    billing_name = forms.CharField(label=_("Billing name"), max_length=200, required=False)
    billing_address = forms.CharField(
        label=_("Billing address"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    tax_id = forms.CharField(label=_("Tax ID"), max_length=64, required=False)


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"))
    role = forms.ChoiceField(label=_("Role"), choices=ROLE_CHOICES, initial="member")


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=ROLE_CHOICES)


class LimitsForm(forms.Form):
    monthly_cap = forms.DecimalField(
        label=_("Monthly cap (credits)"),
        min_value=Decimal(0),
        max_digits=14,
        decimal_places=4,
        required=False,
        help_text=_("Empty: no cap (the organization's balance and budget still apply)."),
    )
    allowed_models = forms.CharField(
        label=_("Allowed models"),
        max_length=2000,
        required=False,
        help_text=_("Model ids separated by commas. Empty: every model."),
    )

    @property
    def monthly_limit_micro(self) -> int | None:
        value = self.cleaned_data.get("monthly_cap")
        return None if value is None else int(value * MICRO)

    @property
    def models(self) -> list[str]:
        raw = self.cleaned_data.get("allowed_models") or ""
        return [m.strip() for m in raw.replace("\n", ",").split(",") if m.strip()]


class TransferForm(forms.Form):
    to_user = forms.TypedChoiceField(label=_("New owner"), coerce=int)

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_user"].choices = [(m.user_id, m.user.email) for m in members]


class DeleteOrgForm(forms.Form):
    confirm = forms.CharField(label=_("Type the organization's name to confirm"), max_length=100)

    def __init__(self, *args, org_name: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.org_name = org_name

    def clean_confirm(self):
        value = self.cleaned_data["confirm"].strip()
        if value != self.org_name:
            raise forms.ValidationError(_("That is not the organization's name."))
        return value
