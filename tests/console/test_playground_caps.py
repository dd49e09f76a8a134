"""The playground under a key that shares a member's spend cap (issue #21): the gateway's
refusals (the cap reached, a model the organization does not allow) reach the page as they
are, and the page has a title for the cap of its own (a top-up would not help)."""

from pathlib import Path

from django.conf import settings as django_settings

from apps.console.models import PlaygroundKey
from apps.core.money import MICRO
from apps.credits.models import SpendCap
from apps.credits.selectors import ledger_problems, spend_cap_problems
from apps.credits.services import spend_cap_create, spend_cap_update
from apps.keys.models import ApiKey
from apps.keys.services import api_keys_forget_cap
from tests.gateway.conftest import (  # noqa: F401  (the live gateway's fixtures)
    api,
    drain,
    live_api,
    upstream_url,
)

from .test_playground import browser, funded_user, playground, send  # noqa: F401


def test_the_members_cap_and_models_refusals_reach_the_playground(playground):  # noqa: F811
    user = funded_user()
    http = browser(playground, user)
    assert send(http).status_code == 200  # mints the playground's key
    drain(playground)
    cap = spend_cap_create(user_id=user.pk, monthly_limit=0)
    key_id = PlaygroundKey.objects.get(api_key__user=user, api_key__revoked_at__isnull=True).pk
    ApiKey.objects.filter(pk=key_id).update(spend_cap=cap)
    api_keys_forget_cap(cap.pk)  # as the organization's service does when it sets the cap
    refused = send(http)
    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["code"] == "member_cap_reached"
    assert "monthly spending cap in this organization" in error["message"]
    spend_cap_update(cap_id=cap.pk, monthly_limit=100 * MICRO, allowed_models=["fake-ok"])
    refused = send(http)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "model_not_allowed"
    assert (
        "organization does not allow you the model 'demo-chat'"
        in refused.json()["error"]["message"]
    )
    drain(playground)
    assert SpendCap.objects.get(pk=cap.pk).held == 0
    assert ledger_problems() == [] and spend_cap_problems() == []


def test_the_page_titles_a_reached_cap_without_offering_a_top_up():
    script = (Path(django_settings.BASE_DIR) / "static/js/playground.js").read_text()
    branch = script.split('error.code === "member_cap_reached"', 1)[1].split("} else if", 1)[0]
    assert "strings.member_cap_reached" in branch and "top_up" not in branch
    from apps.console.views import _strings

    assert _strings()["member_cap_reached"] == "Your monthly spending cap is reached"
