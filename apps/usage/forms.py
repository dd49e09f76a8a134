from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.timezones import user_time_zone
from apps.keys.models import ApiKey

from .selectors import RANGES, LogFilter, UsageQuery, UsedModels

MAX_CUSTOM_DAYS = 366


class UsageFilterForm(forms.Form):
    range = forms.ChoiceField(
        choices=[
            ("24h", _("Last 24 hours")),
            ("7d", _("7 days")),
            ("30d", _("30 days")),
            ("90d", _("90 days")),
            ("custom", _("Custom")),
        ],
        initial="7d",
        required=False,
    )
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    group = forms.ChoiceField(
        choices=[("model", _("Model")), ("key", _("API key"))], initial="model", required=False
    )
    key = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label=_("API key"))
    model = forms.CharField(required=False, max_length=100)

    def __init__(self, *args, user, models: UsedModels | list[str], **kwargs):
        super().__init__(*args, **kwargs)
        if self.is_bound and not self.data.get("range"):
            # A link with other filters only: the default range, shown as selected too.
            self.data = self.data.copy()
            self.data["range"] = self.fields["range"].initial
        self.user = user
        self.tz = user_time_zone(user)
        keys = (
            ApiKey.objects.filter(user=user).order_by("-created_at").only("name", "prefix", "last4")
        )
        self.fields["key"].choices = [("", _("All keys"))] + [
            (k.pk, f"{k.name} ({k.masked})") for k in keys
        ]
        self.fields["key"].error_messages["invalid_choice"] = _("That is not one of your keys.")
        if not isinstance(models, UsedModels):
            models = UsedModels(known=tuple(models))
        self.used = models
        self.model_choices = models.choices()
        self.models = [value for value, _label in self.model_choices]

    def clean_model(self):
        model = self.cleaned_data.get("model") or None
        if model and model not in self.models:
            raise forms.ValidationError(_("You have no usage of that model."))
        return model

    def selected_models(self) -> tuple[str, ...] | None:
        """The raw model ids the model filter stands for (None: every model)."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return self.used.models_for(data.get("model"))

    def clean(self):
        data = super().clean()
        if data.get("range") == "custom":
            start, end = data.get("start"), data.get("end")
            if not start or not end:
                raise forms.ValidationError(_("Choose both a start and an end date."))
            if start > end:
                raise forms.ValidationError(_("The start date must not be after the end date."))
            if (end - start).days >= MAX_CUSTOM_DAYS:
                raise forms.ValidationError(
                    _("Choose at most %(days)s days.") % {"days": MAX_CUSTOM_DAYS}
                )
        return data

    def query(self) -> UsageQuery:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        now = timezone.now()
        kind = data.get("range") or "7d"
        if kind == "custom":
            start = datetime.combine(data["start"], time.min, tzinfo=self.tz)
            end = min(
                datetime.combine(data["end"] + timedelta(days=1), time.min, tzinfo=self.tz), now
            )
        else:
            start, end = now - RANGES[kind], now
        return UsageQuery(
            start=start,
            end=end,
            tz=self.tz,
            group=data.get("group") or "model",
            key_id=data.get("key"),
            models=self.used.models_for(data.get("model")),
        )


STATUS_CODES = (400, 401, 402, 403, 404, 408, 413, 429, 500, 502, 503, 504)


class LogFilterForm(UsageFilterForm):
    """The request log's filters: the usage page's range, key and model, then status and
    protocol. Every value comes from GET, so a filtered log is a link to share."""

    status = forms.ChoiceField(required=False, label=_("Status"))
    protocol = forms.ChoiceField(
        required=False,
        label=_("Protocol"),
        choices=[
            ("", _("All protocols")),
            ("chat", _("Chat Completions")),
            ("messages", _("Anthropic Messages")),
            ("responses", _("Responses")),
        ],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [
            ("", _("All")),
            ("ok", _("Succeeded")),
            ("error", _("Failed")),
        ] + [(str(code), str(code)) for code in STATUS_CODES]

    def log_filter(self) -> LogFilter:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        query = self.query()
        status = data.get("status") or None
        if status and status.isdigit():
            status = int(status)
        return LogFilter(
            start=query.start,
            # Requests written while the page is read are shown, not left for the next visit.
            end=query.end + timedelta(minutes=1) if data.get("range") != "custom" else query.end,
            key_id=query.key_id,
            models=query.models,
            status=status,
            protocol=data.get("protocol") or None,
        )
