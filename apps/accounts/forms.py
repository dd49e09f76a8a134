from django import forms
from django.utils.translation import gettext_lazy as _

from .selectors import TIME_ZONES
from .services import CONTENT_DAYS

TIME_ZONE_CHOICES = [(z, z) for z in sorted(TIME_ZONES)]


class ProfileForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=150,
        required=False,
        help_text=_("How we greet you. Optional."),
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        choices=TIME_ZONE_CHOICES,
        label=_("Time zone"),
        help_text=_("Usage charts, totals and exports count days from midnight in this zone."),
    )


CONTENT_LABELS = {
    0: _("Off: not stored (the default)"),
    1: _("1 day"),
    7: _("7 days"),
    30: _("30 days"),
}


class ContentStorageForm(forms.Form):
    days = forms.TypedChoiceField(
        coerce=int,
        label=_("Keep prompts and answers"),
        choices=[(days, CONTENT_LABELS[days]) for days in CONTENT_DAYS],
        help_text=_(
            "When on, the prompt and the answer of each API request are stored and shown on "
            "the request's page, then deleted after this many days. Turning it off deletes "
            "what was kept."
        ),
    )


class DeleteAccountForm(forms.Form):
    """Deleting needs the user to prove it is them and that they mean it: their password, or
    their e-mail address when they have no password."""

    confirm = forms.CharField(max_length=254, strip=True)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.by_password = user.has_usable_password()
        field = self.fields["confirm"]
        if self.by_password:
            field.label = _("Your password")
            field.widget = forms.PasswordInput(attrs={"autocomplete": "current-password"})
        else:
            field.label = _("Your email address")
            field.widget = forms.EmailInput(attrs={"autocomplete": "off"})

    def clean_confirm(self):
        value = self.cleaned_data["confirm"]
        if self.by_password:
            if not self.user.check_password(value):
                raise forms.ValidationError(_("That is not your password."))
        elif value.lower() != self.user.email.lower():
            raise forms.ValidationError(_("That is not your email address."))
        return value
