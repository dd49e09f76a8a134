from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .actions import ACTIONS


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(required=False, label=_("Action"))
    start = forms.DateField(
        required=False, label=_("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        required=False, label=_("To"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", _("All actions"))] + [
            (code, label) for code, label in ACTIONS.items()
        ]

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise forms.ValidationError(_("The start date is after the end date."))
        return data

    def query(self) -> dict:
        """The selector's filters (nothing filtered when the form is invalid): whole days in
        the active time zone (the account's), both ends included."""
        if not self.is_bound or not self.is_valid():
            return {}
        zone = timezone.get_current_timezone()
        data = self.cleaned_data
        query = {"action": data.get("action") or None}
        if data.get("start"):
            query["start"] = datetime.combine(data["start"], time.min, tzinfo=zone)
        if data.get("end"):
            query["end"] = datetime.combine(data["end"] + timedelta(days=1), time.min, tzinfo=zone)
        return query
