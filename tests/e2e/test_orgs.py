"""An organization in a real browser against the whole product served over HTTP (portal and
gateway in one ASGI app): the owner creates it and invites a second person, who signs up from
the e-mail; the owner gives them a $5 (500 credits) monthly cap and a one-model allowlist; they
create a key and call the API with the openai SDK; the owner sees their spend by member; removing
them revokes the key at once (the next call is 401). Between, a model outside the allowlist is a
403 and a cap lowered to nothing a 402 that names the cap."""

import re

import openai
import pytest
from django.core import mail

from apps.core.money import MICRO
from apps.credits.services import credits_grant
from apps.keys.models import ApiKey
from apps.orgs.models import Membership, Organization
from apps.usage.rollup import rollup_step
from tests.e2e.browser import csp_page
from tests.factories import PASSWORD, UserFactory
from tests.gateway.conftest import (  # noqa: F401  (the live gateway's fixtures)
    api,
    drain,
    live_api,
    upstream_url,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _page(browser, base_url):
    return csp_page(browser, base_url, permissions=["clipboard-read", "clipboard-write"])


def _mail_link(pattern: str) -> str:
    for message in reversed(mail.outbox):
        found = re.search(pattern, message.body)
        if found:
            return found.group(0)
    raise AssertionError(f"no e-mail with {pattern}: {[m.subject for m in mail.outbox]}")


def test_team_journey(browser, api, settings):  # noqa: F811
    settings.PLAYGROUND_API_BASE_URL = f"{api.url}/api/v1"
    settings.SITE_URL = api.url  # the links in the e-mails point at this server
    mail.outbox.clear()
    UserFactory(email="lead@example.com", verified=True)
    owner, owner_refused = _page(browser, api.url)

    # The owner creates the organization and is now acting for it.
    owner.goto("/accounts/login/")
    owner.get_by_label("Email:").fill("lead@example.com")
    owner.get_by_label("Password:").fill(PASSWORD)
    owner.get_by_role("button", name="Sign In").click()
    owner.wait_for_url("**/dashboard/")
    assert owner.get_by_test_id("acting-context").inner_text() == "Personal"
    owner.goto("/org/new/")
    owner.get_by_label("Organization name").fill("Acme Robots")
    owner.get_by_role("button", name="Create organization").click()
    owner.wait_for_url("**/org/members/")
    assert owner.get_by_test_id("acting-context").inner_text() == "Acme Robots"
    org = Organization.objects.get(name="Acme Robots")
    credits_grant(user_id=org.principal_id, amount=1000 * MICRO, kind="topup", reference="team")

    # Invite a developer by e-mail.
    invite = owner.get_by_test_id("invite-form")
    invite.get_by_label("E-mail address").fill("dev@example.com")
    invite.get_by_label("Role").select_option("member")
    invite.get_by_role("button", name="Send invitation").click()
    owner.get_by_test_id("invitation").filter(has_text="dev@example.com").wait_for()
    accept_link = _mail_link(r"https?://\S+/org/invitations/accept/\S+/")

    # The developer opens the link, signs up, verifies the address and accepts.
    dev, dev_refused = _page(browser, api.url)
    dev.goto(accept_link)
    card = dev.get_by_test_id("invitation-card")
    assert "Acme Robots" in card.inner_text()
    card.get_by_role("link", name="Sign Up").click()
    dev.get_by_label("Email:").fill("dev@example.com")
    dev.get_by_label("Password:", exact=True).fill("a-long-and-unusual-passphrase")
    dev.get_by_label("Password (again):").fill("a-long-and-unusual-passphrase")
    dev.get_by_role("button", name="Sign Up").click()
    dev.wait_for_url("**/accounts/confirm-email/")
    dev.goto(_mail_link(r"https?://\S+/accounts/confirm-email/\S+/"))
    dev.get_by_role("button", name="Confirm").click()
    dev.wait_for_url(re.compile(r".*/(dashboard|org/invitations/accept/.*)/$"))
    dev.goto(accept_link)
    dev.get_by_test_id("accept").click()
    dev.wait_for_url("**/dashboard/")
    assert dev.get_by_test_id("acting-context").inner_text() == "Acme Robots"
    member = Membership.objects.get(organization=org, user__email="dev@example.com")
    assert member.role == "member"

    # The owner gives them a $5 (500 credits) monthly cap and one model.
    owner.goto("/org/members/")
    row = owner.get_by_test_id("member-dev@example.com")
    row.get_by_label("Monthly cap (credits)").fill("500")
    row.get_by_label("Allowed models").fill("demo-chat")
    row.get_by_role("button", name="Save limits").click()
    owner.get_by_test_id("member-dev@example.com").get_by_text("500.00 left").wait_for()
    member.spend_cap.refresh_from_db()
    assert member.spend_cap.monthly_limit == 500 * MICRO
    assert member.spend_cap.allowed_models == ["demo-chat"]

    # The developer sees their cap, creates a key and calls the API with the openai SDK.
    dev.goto("/dashboard/")
    assert "500.00" in dev.get_by_test_id("member-cap").inner_text()
    dev.get_by_role("link", name="API Keys").click()
    dev.get_by_label("Name").fill("dev laptop")
    dev.get_by_role("button", name="Create key").click()
    panel = dev.get_by_test_id("secret-panel")
    panel.get_by_role("button", name="Copy").click()
    panel.get_by_role("button", name="Copied!").wait_for()
    secret = dev.evaluate("navigator.clipboard.readText()")
    key = ApiKey.objects.get(name="dev laptop")
    assert key.user_id == org.principal_id and key.spend_cap_id == member.spend_cap_id
    client = openai.OpenAI(api_key=secret, base_url=f"{api.url}/api/v1", max_retries=0)
    reply = client.chat.completions.create(
        model="demo-chat", messages=[{"role": "user", "content": "hello team"}]
    )
    assert reply.choices[0].message.content
    drain(api)
    rollup_step()  # the by-member page reads the hourly rollups, a minute behind

    # The owner sees the developer's spend on the by-member page.
    owner.goto("/org/usage/")
    table = owner.get_by_test_id("by-key-table").inner_text()
    assert "dev@example.com" in table and "dev laptop" in table and "demo-chat" in table

    # A model outside their allowlist is refused (403, in the SDK's own error type).
    with pytest.raises(openai.PermissionDeniedError) as refused:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "another model"}]
        )
    assert refused.value.code == "model_not_allowed"

    # The owner lowers the cap to nothing: the next call is a 402 that names the cap.
    owner.goto("/org/members/")
    row = owner.get_by_test_id("member-dev@example.com")
    row.get_by_label("Monthly cap (credits)").fill("0")
    row.get_by_role("button", name="Save limits").click()
    owner.get_by_test_id("member-dev@example.com").get_by_text("0.00 left").wait_for()
    with pytest.raises(openai.APIStatusError) as capped:
        client.chat.completions.create(
            model="demo-chat", messages=[{"role": "user", "content": "one more"}]
        )
    assert capped.value.status_code == 402 and capped.value.code == "member_cap_reached"
    assert "cap" in capped.value.message

    # Removing the developer revokes their key at once: the very next call is refused.
    owner.goto("/org/members/")
    owner.once("dialog", lambda dialog: dialog.accept())
    owner.get_by_test_id("member-dev@example.com").get_by_role("button", name="Remove").click()
    owner.get_by_test_id("member-dev@example.com").wait_for(state="detached")
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(
            model="demo-chat", messages=[{"role": "user", "content": "still there?"}]
        )
    # And the developer's browser is back in their personal account.
    dev.goto("/dashboard/")
    assert dev.get_by_test_id("acting-context").inner_text() == "Personal"
    dev.context.close()
    owner.context.close()
    assert not owner_refused and not dev_refused, owner_refused + dev_refused


def test_switcher_shows_the_context_on_a_phone_and_switches(page):
    from apps.orgs.services import organization_create

    person = UserFactory(email="switch@example.com", verified=True)
    organization_create(user_id=person.pk, name="Pocket Org")
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto("/accounts/login/")
    page.get_by_label("Email:").fill("switch@example.com")
    page.get_by_label("Password:").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url("**/dashboard/")
    context = page.get_by_test_id("acting-context")
    assert context.is_visible() and context.inner_text() == "Personal"  # menu still folded
    page.get_by_role("button", name="Menu").click()
    page.get_by_label("Switch account").select_option(label="Pocket Org")
    page.wait_for_url("**/dashboard/")
    page.get_by_test_id("acting-context").filter(has_text="Pocket Org").wait_for()
    assert page.get_by_test_id("member-cap").is_visible()
    page.get_by_role("button", name="Menu").click()
    page.get_by_label("Switch account").select_option(label="Personal")
    page.get_by_test_id("acting-context").filter(has_text="Personal").wait_for()
