import uuid
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.money import credits_to_micro

from .services import GRACE_PERIODS


class CreateKeyForm(forms.Form):
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


class EditKeyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=64)
    credit_limit = CreateKeyForm.base_fields["credit_limit"]
    rpm_limit = CreateKeyForm.base_fields["rpm_limit"]

    clean_name = CreateKeyForm.clean_name
    clean_rpm_limit = CreateKeyForm.clean_rpm_limit

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
