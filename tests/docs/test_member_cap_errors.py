"""The errors page explains an organization member's spending cap and models (issue #21), in
English and in Chinese."""

import pytest
from django.urls import reverse

from apps.gateway.errors import DOMAIN_ERRORS

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("language", "heading"),
    [
        ("en", "Your spending cap and models in an organization"),
        ("zh-hans", "您在组织中的消费上限与模型"),
    ],
)
def test_the_errors_page_names_the_member_cap_refusals(client, language, heading):
    body = client.get(
        reverse("docs:page", args=["errors"]), HTTP_ACCEPT_LANGUAGE=language
    ).content.decode()
    assert heading in body
    for code in (
        "member_cap_reached",
        "model_not_allowed",
        "x-opencodex-max-tokens-reason: member_cap",
    ):
        assert f"<code>{code}</code>" in body, code
    assert "Your monthly spending cap in this organization" in body  # the message as sent
    assert DOMAIN_ERRORS["MemberCapReached"] == (402, "insufficient_credits", "member_cap_reached")
