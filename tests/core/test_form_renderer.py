"""The site's form renderer writes plain widgets in Python: the HTML must be what Django's own
widget templates give, byte for byte, for every kind of widget and value it takes over."""

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from apps.accounts.forms import TimeZoneForm
from apps.core.forms import SiteFormRenderer


class Everything(forms.Form):
    name = forms.CharField(help_text="Shown to <members>", max_length=20)
    email = forms.EmailField(required=False)
    secret = forms.CharField(widget=forms.PasswordInput(render_value=True))
    amount = forms.DecimalField(min_value=0, decimal_places=2, required=False)
    count = forms.IntegerField(widget=forms.NumberInput(attrs={"step": 5, "disabled": True}))
    agree = forms.BooleanField(required=False)
    hidden = forms.CharField(widget=forms.HiddenInput, required=False)
    site = forms.URLField(required=False, assume_scheme="https")
    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), required=False)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    role = forms.ChoiceField(choices=[("a", "Admin & co"), ("b", gettext_lazy("Billing"))])
    grouped = forms.ChoiceField(
        choices=[("Fruit", [("apple", "Apple"), ("pear", "Pear")]), ("x", "<X>")],
        required=False,
    )
    many = forms.MultipleChoiceField(choices=[(1, 1), (2, 2), (3, 3)], required=False)
    radio = forms.ChoiceField(
        widget=forms.RadioSelect, choices=[("y", "Yes"), ("n", "No")], required=False
    )


VALUES = [
    {},
    {
        "name": 'Ann "the <b>" & co',
        "email": "a@b.example",
        "secret": "p<>\"'",
        "amount": "12.50",
        "count": "10",
        "agree": "on",
        "hidden": mark_safe("<safe>"),
        "site": "https://x.example/?a=1&b=2",
        "day": "2026-12-05",
        "note": "line one\n<line two>",
        "role": "b",
        "grouped": "pear",
        "many": ["1", "3"],
        "radio": "n",
    },
    {"name": "", "amount": "not a number", "role": "nope", "grouped": "apple"},
]


@pytest.mark.parametrize("data", VALUES)
@pytest.mark.parametrize("field", list(Everything.base_fields))
def test_each_widget_as_djangos_templates_draw_it(data, field):
    fast = Everything(data or None, renderer=SiteFormRenderer())
    slow = Everything(data or None, renderer=DjangoTemplates())
    assert str(fast[field]) == str(slow[field])
    assert str(fast[field].as_widget(attrs={"aria-invalid": "true"})) == str(
        slow[field].as_widget(attrs={"aria-invalid": "true"})
    )


def test_the_time_zone_select_is_the_same_with_a_choice_made():
    fast = TimeZoneForm(initial={"time_zone": "Asia/Shanghai"}, renderer=SiteFormRenderer())
    slow = TimeZoneForm(initial={"time_zone": "Asia/Shanghai"}, renderer=DjangoTemplates())
    html = str(fast["time_zone"])
    assert html == str(slow["time_zone"])
    assert html.count("<option") > 400
    assert '<option value="Asia/Shanghai" selected>Asia/Shanghai</option>' in html
