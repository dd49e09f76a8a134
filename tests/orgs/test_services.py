import re
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core import mail, signing
from django.core.management import call_command
from django.utils import timezone

from apps.core.money import MICRO
from apps.credits.models import Account, LedgerEntry, SpendCap
from apps.credits.services import _ledger_post, credits_adjust
from apps.keys.models import ApiKey
from apps.keys.services import api_key_create
from apps.orgs import services
from apps.orgs.errors import OrgError
from apps.orgs.models import Invitation, Membership, Organization
from tests.factories import UserFactory

from .conftest import fund, join

User = get_user_model()


def test_create_makes_principal_account_and_owner(org, org_owner):
    principal = org.principal
    assert principal.email == f"org-{principal.pk}@organizations.invalid"
    assert not principal.has_usable_password()
    assert principal.is_active and not principal.is_staff
    assert not EmailAddress.objects.filter(user=principal).exists()
    account = Account.objects.get(user=principal)
    assert account.balance == 0
    membership = Membership.objects.get(organization=org)
    assert membership.user == org_owner and membership.role == "owner"
    assert membership.spend_cap.account == account


def test_principal_gets_no_signup_grant(org, org_owner):
    assert not LedgerEntry.objects.filter(account__user=org.principal).exists()
    assert Account.objects.get(user=org.principal).balance == 0
    assert Organization.objects.get(principal__email__endswith=".invalid") == org


def test_principal_cannot_sign_in(client, org):
    response = client.post(
        "/accounts/login/", {"login": org.principal.email, "password": ""}, follow=False
    )
    assert "_auth_user_id" not in client.session
    assert response.status_code in (200, 400)


def test_invitation_mail_and_accept(org, org_owner, django_capture_on_commit_callbacks):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.invitation_create(
            org_id=org.pk, email="New@Example.com", role="member", invited_by_id=org_owner.pk
        )
    assert invitation.email == "new@example.com"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new@example.com"]
    assert "Acme" in message.subject
    found = re.search(r"https?://\S+/org/invitations/accept/(\S+)/", message.body)
    assert found, message.body
    token = found.group(1)
    assert services.invitation_from_token(token) == invitation
    newcomer = UserFactory(email="new@example.com", verified=True)
    membership = services.invitation_accept(token=token, user_id=newcomer.pk)
    assert membership.role == "member"
    assert membership.spend_cap.account.user_id == org.principal_id
    invitation.refresh_from_db()
    assert invitation.accepted_by == newcomer and invitation.accepted_at is not None
    with pytest.raises(OrgError):  # once only
        services.invitation_accept(token=token, user_id=newcomer.pk)


def test_accept_needs_the_invited_verified_address(org, org_owner):
    invitation = services.invitation_create(
        org_id=org.pk, email="right@example.com", role="member", invited_by_id=org_owner.pk
    )
    token = services.invitation_token(invitation)
    wrong = UserFactory(email="wrong@example.com", verified=True)
    with pytest.raises(OrgError, match=r"right@example\.com"):
        services.invitation_accept(token=token, user_id=wrong.pk)
    unverified = UserFactory(email="right@example.com")
    EmailAddress.objects.create(user=unverified, email=unverified.email, verified=False)
    with pytest.raises(OrgError):
        services.invitation_accept(token=token, user_id=unverified.pk)
    assert not Membership.objects.filter(organization=org, user__in=[wrong, unverified]).exists()


def test_tampered_and_expired_tokens_are_refused(org, org_owner, settings):
    invitation = services.invitation_create(
        org_id=org.pk, email="x@example.com", role="admin", invited_by_id=org_owner.pk
    )
    token = services.invitation_token(invitation)
    person = UserFactory(email="x@example.com", verified=True)
    with pytest.raises(OrgError):
        services.invitation_accept(token=token[:-2] + "xx", user_id=person.pk)
    forged = signing.dumps({"i": invitation.pk, "e": "x@example.com"}, salt="other")
    with pytest.raises(OrgError):
        services.invitation_accept(token=forged, user_id=person.pk)
    # The signature's age is checked (max_age), and so is the stored expiry.
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(OrgError, match="expired"):
        services.invitation_accept(token=token, user_id=person.pk)
    past = timezone.now() - timedelta(days=services.INVITATION_DAYS + 1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(signing.time, "time", lambda: past.timestamp())
        stale = services.invitation_token(invitation)
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() + timedelta(days=1)
    )
    with pytest.raises(OrgError, match="expired"):
        services.invitation_accept(token=stale, user_id=person.pk)
    services.invitation_accept(token=token, user_id=person.pk)  # the fresh one works


def test_revoked_invitation_is_refused(org, org_owner):
    invitation = services.invitation_create(
        org_id=org.pk, email="y@example.com", role="member", invited_by_id=org_owner.pk
    )
    services.invitation_revoke(org_id=org.pk, invitation_id=invitation.pk)
    person = UserFactory(email="y@example.com", verified=True)
    with pytest.raises(OrgError, match="withdrawn"):
        services.invitation_accept(token=services.invitation_token(invitation), user_id=person.pk)


def test_only_owner_makes_owners_and_last_owner_stays(org, team):
    with pytest.raises(OrgError, match="Only an owner"):
        services.member_role_set(
            org_id=org.pk, user_id=team["member"].pk, role="owner", actor_id=team["admin"].pk
        )
    with pytest.raises(OrgError, match="at least one owner"):
        services.member_role_set(
            org_id=org.pk, user_id=team["owner"].pk, role="admin", actor_id=team["owner"].pk
        )
    with pytest.raises(OrgError, match="at least one owner"):
        services.member_leave(org_id=org.pk, user_id=team["owner"].pk)
    services.member_role_set(
        org_id=org.pk, user_id=team["admin"].pk, role="owner", actor_id=team["owner"].pk
    )
    services.member_role_set(
        org_id=org.pk, user_id=team["owner"].pk, role="viewer", actor_id=team["admin"].pk
    )
    assert Membership.objects.get(organization=org, user=team["owner"]).role == "viewer"
    with pytest.raises(OrgError, match="Only an owner"):  # an admin cannot remove an owner
        services.member_remove(org_id=org.pk, user_id=team["admin"].pk, actor_id=team["billing"].pk)


def test_transfer_ownership(org, team):
    services.ownership_transfer(
        org_id=org.pk, from_user_id=team["owner"].pk, to_user_id=team["member"].pk
    )
    roles = dict(Membership.objects.filter(organization=org).values_list("user_id", "role"))
    assert roles[team["member"].pk] == "owner" and roles[team["owner"].pk] == "admin"
    with pytest.raises(OrgError):
        services.ownership_transfer(
            org_id=org.pk, from_user_id=team["owner"].pk, to_user_id=team["viewer"].pk
        )


def test_limits_set_the_members_spend_cap(org, team):
    services.member_limits_set(
        org_id=org.pk,
        user_id=team["member"].pk,
        monthly_limit=500 * MICRO,
        allowed_models=["deepseek-chat", " deepseek-chat "],
    )
    cap = Membership.objects.get(organization=org, user=team["member"]).spend_cap
    assert cap.monthly_limit == 500 * MICRO and cap.allowed_models == ["deepseek-chat"]


def test_removal_revokes_the_members_keys_only(org, team):
    member_cap = Membership.objects.get(organization=org, user=team["member"]).spend_cap
    theirs, _ = api_key_create(
        user_id=org.principal_id,
        name="mine",
        created_by_id=team["member"].pk,
        spend_cap_id=member_cap.pk,
    )
    admins, _ = api_key_create(
        user_id=org.principal_id, name="admin", created_by_id=team["admin"].pk
    )
    personal, _ = api_key_create(user_id=team["member"].pk, name="personal")
    revoked = services.member_remove(
        org_id=org.pk, user_id=team["member"].pk, actor_id=team["admin"].pk
    )
    assert revoked == 1
    assert ApiKey.objects.get(pk=theirs.pk).revoked_at is not None
    assert ApiKey.objects.get(pk=admins.pk).revoked_at is None
    assert ApiKey.objects.get(pk=personal.pk).revoked_at is None
    assert not Membership.objects.filter(organization=org, user=team["member"]).exists()
    assert SpendCap.objects.filter(pk=member_cap.pk).exists()  # the old keys still name it


def test_delete_refused_with_balance_then_keeps_records(org, team):
    fund(org, 10)
    with pytest.raises(OrgError, match="balance"):
        services.organization_delete(org_id=org.pk, actor_id=team["owner"].pk)
    with pytest.raises(OrgError, match="Only an owner"):
        services.organization_delete(org_id=org.pk, actor_id=team["admin"].pk)
    credits_adjust(user_id=org.principal_id, amount=-10 * MICRO, reason="zero", actor_id=None)
    key, _ = api_key_create(user_id=org.principal_id, name="k", created_by_id=team["owner"].pk)
    services.organization_delete(org_id=org.pk, actor_id=team["owner"].pk)
    org.refresh_from_db()
    assert org.deleted_at is not None
    assert not Membership.objects.filter(organization=org).exists()
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    assert LedgerEntry.objects.filter(account__user_id=org.principal_id).count() == 2
    assert not User.objects.get(pk=org.principal_id).is_active
    call_command("check_ledger")


def test_delete_refused_in_debt(org, team):
    # A request that cost more than was held took the balance below zero.
    account = Account.objects.get(user_id=org.principal_id)
    _ledger_post(
        account_id=account.pk,
        amount=-1 * MICRO,
        kind="usage",
        reference="usage:test-debt",
        may_go_negative=True,
    )
    with pytest.raises(OrgError, match="balance"):
        services.organization_delete(org_id=org.pk, actor_id=team["owner"].pk)


def test_invite_refuses_existing_member_and_duplicate(org, team):
    with pytest.raises(OrgError, match="already a member"):
        services.invitation_create(
            org_id=org.pk, email="MEMBER@example.com", role="member", invited_by_id=team["owner"].pk
        )
    services.invitation_create(
        org_id=org.pk, email="z@example.com", role="member", invited_by_id=team["owner"].pk
    )
    with pytest.raises(OrgError, match="pending"):
        services.invitation_create(
            org_id=org.pk, email="Z@example.com", role="viewer", invited_by_id=team["owner"].pk
        )


def test_a_second_organization_for_the_same_person(org, org_owner):
    other = services.organization_create(user_id=org_owner.pk, name="Beta")
    assert other.principal_id != org.principal_id
    assert Membership.objects.filter(user=org_owner).count() == 2
    person = UserFactory(email="both@example.com", verified=True)
    join(org, person, "member")
    join(other, person, "viewer")
    assert set(Membership.objects.filter(user=person).values_list("role", flat=True)) == {
        "member",
        "viewer",
    }


def test_deleting_ones_account_leaves_organizations(org, team):
    from apps.accounts.services import user_delete

    cap = Membership.objects.get(organization=org, user=team["member"]).spend_cap
    key, _ = api_key_create(
        user_id=org.principal_id, name="m", created_by_id=team["member"].pk, spend_cap_id=cap.pk
    )
    user_delete(user_id=team["member"].pk)
    assert not Membership.objects.filter(user=team["member"]).exists()
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    with pytest.raises(OrgError, match="last owner"):
        user_delete(user_id=team["owner"].pk)
    assert User.objects.get(pk=team["owner"].pk).is_active


def test_account_mail_goes_to_the_members_with_the_role(org, team):
    from apps.core.recipients import account_recipients

    assert account_recipients(org.principal, "billing") == sorted(
        [team["owner"].email, team["billing"].email]
    )
    assert account_recipients(org.principal, "webhooks") == sorted(
        [team["owner"].email, team["admin"].email]
    )
    assert account_recipients(team["member"], "billing") == [team["member"].email]


def test_staff_console_does_not_count_principals_as_signups(org, team):
    from apps.staff.selectors import accounts_activity

    signups = accounts_activity()["signups"]
    assert signups["total"] == len(team)  # five people; the organization's principal is not one


def test_an_organizations_invoices_name_its_billing_details(client, org, team, stripe_on):
    """The Stripe invoice of an organization's top-up names its billing name, address and tax
    id; a person's top-up leaves them to Checkout."""
    from apps.billing.checkout import checkout_create
    from tests.billing import stripe_standin

    services.organization_update(
        org_id=org.pk,
        billing_name="Acme Robots GmbH",
        billing_address="Hauptstrasse 1\n10115 Berlin",
        tax_id="DE123456789",
    )
    payment, _url = checkout_create(
        user=org.principal,
        currency="usd",
        pack=500,
        success_url="http://x/s",
        cancel_url="http://x/c",
    )
    session = stripe_standin.sessions[payment.checkout_session_id]
    assert session["invoice_description"] == (
        "Acme Robots GmbH\nHauptstrasse 1\n10115 Berlin\nTax ID: DE123456789"
    )
    assert session["invoice_custom_fields"] == {"Tax ID": "DE123456789"}
    assert session["customer_email"] == "billing@example.com"  # the member with the billing role
    person, _url = checkout_create(
        user=team["member"],
        currency="usd",
        pack=500,
        success_url="http://x/s",
        cancel_url="http://x/c",
    )
    mine = stripe_standin.sessions[person.checkout_session_id]
    assert mine["invoice_description"] is None and mine["invoice_custom_fields"] == {}
