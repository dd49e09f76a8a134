import uuid
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.money import credits_to_micro

from .errors import InvalidGuardrail
from .guardrails import clean_models, clean_networks
from .models import SPEND_WINDOWS
from .services import GRACE_PERIODS


def catalog_model_ids() -> set[str]:
    from apps.catalog.models import Model

    return set(Model.objects.filter(enabled=True).values_list("public_id", flat=True))


class GuardrailFields(forms.Form):
    """What a key may be used for, beside its credit limit and rate: shared by the create and
    edit forms. Bad input stays in the field with the reason beside it."""

    GUARDRAILS = ("spend_limit", "spend_window", "tpm_limit", "allowed_models", "allowed_ips")

    spend_limit = forms.DecimalField(
        required=False,
        label=_("Spend limit"),
        min_value=Decimal("0.000001"),
        max_value=Decimal("100000000"),
        max_digits=16,
        decimal_places=6,
        help_text=_(
            "Optional. The most this key may spend in each window, in credits; the window "
            "starts again at midnight in your time zone."
        ),
        widget=forms.NumberInput(attrs={"step": "any", "placeholder": "no limit"}),
    )
    spend_window = forms.ChoiceField(
        required=False,
        label=_("Spend limit window"),
        choices=SPEND_WINDOWS,
        initial="day",
        help_text=_("A day, a week from Monday, or a calendar month."),
    )
    tpm_limit = forms.IntegerField(
        required=False,
        label=_("Tokens per minute"),
        min_value=1,
        help_text=_(
            "Optional. Prompt and output tokens of the requests that ended in the current minute; "
            "a request is refused with 429 once they reach it."
        ),
        widget=forms.NumberInput(attrs={"placeholder": "no limit"}),
    )
    allowed_models = forms.CharField(
        required=False,
        label=_("Allowed models"),
        help_text=_(
            "Optional. Model ids, separated by commas or new lines; other models are refused "
            "and not listed. Empty: every model."
        ),
        widget=forms.Textarea(
            attrs={"rows": 2, "placeholder": "deepseek-chat, qwen-plus", "spellcheck": "false"}
        ),
    )
    allowed_ips = forms.CharField(
        required=False,
        label=_("Allowed IP addresses"),
        help_text=_(
            "Optional. IPv4 or IPv6 addresses and CIDR networks, separated by commas or new "
            "lines; requests from anywhere else are refused. Empty: any address."
        ),
        widget=forms.Textarea(
            attrs={"rows": 2, "placeholder": "203.0.113.7, 10.0.0.0/8", "spellcheck": "false"}
        ),
    )

    def clean_allowed_models(self):
        try:
            return clean_models(self.cleaned_data.get("allowed_models"), known=catalog_model_ids())
        except InvalidGuardrail as exc:
            raise forms.ValidationError(exc.message) from None

    def clean_allowed_ips(self):
        try:
            return clean_networks(self.cleaned_data.get("allowed_ips"))
        except InvalidGuardrail as exc:
            raise forms.ValidationError(exc.message) from None

    def clean_tpm_limit(self):
        value = self.cleaned_data.get("tpm_limit")
        if value is not None and value > settings.API_MAX_TPM:
            raise forms.ValidationError(
                _("At most %(max)s tokens per minute.") % {"max": f"{settings.API_MAX_TPM:,}"}
            )
        return value

    def clean(self):
        data = super().clean()
        if data.get("spend_limit") is not None and not data.get("spend_window"):
            self.add_error("spend_window", _("Choose the window the spend limit is for."))
        return data

    @property
    def guardrails(self) -> dict:
        """The guardrails as the services take them."""
        data = self.cleaned_data
        limit = data.get("spend_limit")
        return {
            "spend_limit": None if limit is None else credits_to_micro(limit),
            "spend_window": (data.get("spend_window") or "") if limit is not None else "",
            "tpm_limit": data.get("tpm_limit"),
            "allowed_models": data.get("allowed_models") or [],
            "allowed_ips": data.get("allowed_ips") or [],
        }

    @property
    def basic_fields(self):
        return [f for f in self.visible_fields() if f.name not in self.GUARDRAILS]

    @property
    def guardrail_fields(self):
        return [f for f in self.visible_fields() if f.name in self.GUARDRAILS]

    @property
    def guardrail_errors(self) -> bool:
        return any(name in self.errors for name in self.GUARDRAILS)


class CreateKeyForm(GuardrailFields):
    name = forms.CharField(
        label=_("Name"),
        max_length=64,
        help_text=_("So you can tell your keys apart, e.g. the app that uses it."),
        widget=forms.TextInput(
            attrs={"placeholder": "e.g. my-chatbot-prod", "autocomplete": "off"}
        ),
    )
    expires_on = forms.DateField(
        required=False,
        label=_("Expires on"),
        help_text=_("Optional. The key works until the end of this day (UTC)."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    credit_limit = forms.DecimalField(
        required=False,
        label=_("Credit limit"),
        min_value=Decimal("0.000001"),
        max_value=Decimal("100000000"),
        max_digits=16,
        decimal_places=6,
        help_text=_("Optional. The most this key may spend, in credits."),
        widget=forms.NumberInput(attrs={"step": "any", "placeholder": "no limit"}),
    )
    rpm_limit = forms.IntegerField(
        required=False,
        label=_("Requests per minute"),
        min_value=1,
        help_text=_("Optional. Defaults to the account's limit."),
        widget=forms.NumberInput(attrs={"placeholder": "default"}),
    )
    token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)

    field_order = [
        "name",
        "expires_on",
        "credit_limit",
        "rpm_limit",
        *GuardrailFields.GUARDRAILS,
    ]

    def clean_rpm_limit(self):
        value = self.cleaned_data.get("rpm_limit")
        if value is not None and value > settings.API_MAX_RPM:
            raise forms.ValidationError(
                _("At most %(max)s requests per minute.") % {"max": settings.API_MAX_RPM}
            )
        return value

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Give the key a name."))
        return name

    def clean_expires_on(self):
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        today = timezone.now().astimezone(UTC).date()
        if day < today:
            raise forms.ValidationError(_("Choose today or a later date."))
        if day > today + timedelta(days=3660):
            raise forms.ValidationError(_("Choose a date within ten years."))
        return day

    @property
    def expires_at(self) -> datetime | None:
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)

    @property
    def credit_limit_micro(self) -> int | None:
        value = self.cleaned_data.get("credit_limit")
        return None if value is None else credits_to_micro(value)


class EditKeyForm(GuardrailFields):
    name = forms.CharField(label=_("Name"), max_length=64)
    expires_on = forms.DateField(
        required=False,
        label=_("Expires on"),
        help_text=_(
            "Optional. The key works until the end of this day (UTC); clear it to keep the key "
            "working."
        ),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    credit_limit = CreateKeyForm.base_fields["credit_limit"]
    rpm_limit = CreateKeyForm.base_fields["rpm_limit"]

    field_order = CreateKeyForm.field_order

    clean_name = CreateKeyForm.clean_name
    clean_rpm_limit = CreateKeyForm.clean_rpm_limit
    expires_at = CreateKeyForm.expires_at

    def clean_expires_on(self):
        if "expires_on" not in self.changed_data:  # as it was (a rotation's grace keeps its hour)
            return self.cleaned_data.get("expires_on")
        return CreateKeyForm.clean_expires_on(self)

    @property
    def expiry_changes(self) -> dict:
        """``expires_at`` for the service when the owner changed the date, else nothing."""
        return {"expires_at": self.expires_at} if "expires_on" in self.changed_data else {}

    @property
    def credit_limit_micro(self) -> int | None:
        value = self.cleaned_data.get("credit_limit")
        return None if value is None else credits_to_micro(value)


class RotateKeyForm(forms.Form):
    grace_seconds = forms.TypedChoiceField(
        label=_("Keep the old key working"),
        choices=[(seconds, label) for seconds, label in GRACE_PERIODS.items()],
        coerce=int,
        initial=86400,
        widget=forms.RadioSelect,
        help_text=_("Time to move your apps to the new key. 'now' stops the old key at once."),
    )
