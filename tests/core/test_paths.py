"""``{% path %}`` gives what ``{% url %}`` gives, for the routes the tables use."""

import pytest
from django.template import Context, Template
from django.urls import NoReverseMatch, reverse, set_script_prefix

from apps.core.templatetags.paths import path


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("keys:detail", (7,)),
        ("keys:rotate", (123456,)),
        ("keys:revoke", (1,)),
        ("webhooks:log", (42,)),
        ("orgs:member_role", (9,)),
        ("console:request_detail", ("req_abc x&y",)),  # text: through reverse()
        ("keys:list", ()),
    ],
)
def test_the_same_as_reverse(name, args):
    assert path(name, *args) == reverse(name, args=args)


def test_in_a_template_and_under_a_script_prefix():
    template = Template(
        "{% load paths %}{% for k in keys %}{% path 'keys:detail' k %} {% endfor %}"
    )
    assert template.render(Context({"keys": [1, 22]})) == "/keys/1/ /keys/22/ "
    set_script_prefix("/portal/")
    try:
        assert path("keys:detail", 5) == reverse("keys:detail", args=[5]) == "/portal/keys/5/"
    finally:
        set_script_prefix("/")
    assert path("keys:detail", 5) == "/keys/5/"


def test_what_is_not_a_whole_number_goes_through_reverse():
    for bad in (True, "not-a-number"):
        with pytest.raises(NoReverseMatch):  # as {% url %} would
            path("keys:detail", bad)
