from django import forms
from django.utils.translation import gettext_lazy as _

from .addresses import MAX_URL_LENGTH
from .models import EVENT_TYPES


class EndpointForm(forms.Form):
    url = forms.CharField(
        label=_("Endpoint URL"),
        max_length=MAX_URL_LENGTH,
        help_text=_("An https:// address on the public internet. Redirects are not followed."),
        widget=forms.URLInput(
            attrs={"placeholder": "https://example.com/webhooks/opencodex", "autocomplete": "off"}
        ),
    )
    description = forms.CharField(
        label=_("Description"),
        max_length=100,
        required=False,
        help_text=_("Optional. So you can tell your endpoints apart."),
    )
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=[(kind, kind) for kind in EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one event.")},
    )

    def event_rows(self):
        """The event checkboxes with what each event means, for the template."""
        chosen = set(self["events"].value() or ())
        return [
            {"value": kind, "help": help_text, "checked": kind in chosen, "id": f"event-{i}"}
            for i, (kind, help_text) in enumerate(EVENT_TYPES.items())
        ]
