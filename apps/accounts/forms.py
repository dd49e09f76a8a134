from allauth.account.forms import SignupForm as AllauthSignupForm
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


def check_local_part(email: str) -> None:
    """RFC 5321: the part before the @ has at most 64 characters (mail servers refuse longer)."""
    local, _at, _domain = (email or "").rpartition("@")
    if len(local) > 64:
        raise forms.ValidationError(
            _("The part before the @ may have at most 64 characters."), code="local_part"
        )


def password_rules_help() -> str:
    return _("At least 8 characters, not only digits, not a common password, not like your email.")


class SignupForm(AllauthSignupForm):
    """allauth's sign-up form with the site's rules: a short line for the password rules, the
    passwords kept when only the e-mail address was wrong, e-mail local parts of 64 characters
    at most, and a note of the sign-up in the session for the verify-email page."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs.pop("placeholder", None)
        for name in ("password1", "password2"):
            if name in self.fields:
                self.fields[name].widget.attrs.pop("placeholder", None)
                self.fields[name].help_text = ""
        if "password1" in self.fields:
            self.fields["password1"].help_text = password_rules_help()

    def clean_email(self):
        check_local_part(self.data.get("email", "").strip())
        return super().clean_email()

    def full_clean(self):
        super().full_clean()
        # Keep what can be kept: the passwords come back unless they are what was wrong.
        password_errors = self._errors and ({"password1", "password2"} & set(self._errors))
        for name in ("password1", "password2"):
            if name in self.fields:
                self.fields[name].widget.render_value = not password_errors

    def try_save(self, request):
        from .pending import pending_signup_start

        pending_signup_start(
            request,
            email=self.cleaned_data.get("email", ""),
            password=self.cleaned_data.get("password1", ""),
        )
        user, response = super().try_save(request)
        if user is not None:
            pending_signup_start(request, email=user.email, user_id=user.pk)
        return user, response


class EmailChangeForm(forms.Form):
    email = forms.EmailField(
        label=_("The right email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def clean_email(self):
        from allauth.account.adapter import get_adapter

        email = self.cleaned_data["email"].strip().lower()
        check_local_part(email)
        return get_adapter().clean_email(email)
