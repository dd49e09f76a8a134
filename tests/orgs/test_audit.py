"""An organization's audit log: every membership change is an event on the organization's
account, with the person who made it and their address; owners and admins read it, nobody
else does."""

import pytest

from apps.audit.models import AuditEvent
from apps.core.money import MICRO
from apps.orgs import services
from tests.factories import PASSWORD, UserFactory

from .conftest import act_as, join


def events(org):
    return list(
        AuditEvent.objects.filter(account_id=org.principal_id)
        .order_by("pk")
        .values_list("action", "actor_id", "target")
    )


def test_membership_changes_are_audited_on_the_organizations_account(org, org_owner):
    dev = UserFactory(email="dev@example.com", verified=True)
    membership = join(org, dev, "member")
    services.member_role_set(org_id=org.pk, user_id=dev.pk, role="admin", actor_id=org_owner.pk)
    services.member_limits_set(
        org_id=org.pk,
        user_id=dev.pk,
        monthly_limit=500 * MICRO,
        allowed_models=["gpt-4o-mini"],
        actor_id=org_owner.pk,
    )
    services.member_remove(org_id=org.pk, user_id=dev.pk, actor_id=org_owner.pk)
    assert events(org) == [
        ("organization.created", org_owner.pk, ""),
        ("member.invited", org_owner.pk, "dev@example.com"),
        ("member.joined", dev.pk, "dev@example.com"),
        ("member.role_changed", org_owner.pk, "dev@example.com"),
        ("member.limits_changed", org_owner.pk, "dev@example.com"),
        ("member.removed", org_owner.pk, "dev@example.com"),
    ]
    limits = AuditEvent.objects.get(account_id=org.principal_id, action="member.limits_changed")
    assert limits.before == {"monthly_limit": None, "allowed_models": []}
    assert limits.after == {"monthly_limit": 500 * MICRO, "allowed_models": ["gpt-4o-mini"]}
    role = AuditEvent.objects.get(account_id=org.principal_id, action="member.role_changed")
    assert (role.before, role.after) == ({"role": "member"}, {"role": "admin"})
    assert membership.spend_cap_id is not None
    # Nothing of it lands on the people's own accounts.
    assert not AuditEvent.objects.filter(account_id__in=[dev.pk, org_owner.pk]).exists()


@pytest.mark.parametrize(
    ("role", "status"),
    [("owner", 200), ("admin", 200), ("billing", 403), ("member", 403), ("viewer", 403)],
)
def test_owners_and_admins_read_the_log_others_do_not(client, org, team, role, status):
    client.post("/accounts/login/", {"login": team[role].email, "password": PASSWORD})
    act_as(client, org)
    services.organization_update(org_id=org.pk, name="Acme Ltd", actor_id=team["owner"].pk)
    page = client.get("/account/audit/")
    export = client.get("/account/audit/export.csv")
    assert (page.status_code, export.status_code) == (status, status)
    if status == 200:
        body = page.content.decode()
        assert "Acme Ltd" in body and "dev@example.com" not in body
        csv = b"".join(export.streaming_content).decode("utf-8-sig")
        assert "Acme Ltd" in csv and "boss@example.com" in csv


def test_a_page_request_records_the_clients_address(client, org, org_owner):
    client.post("/accounts/login/", {"login": org_owner.email, "password": PASSWORD})
    act_as(client, org)
    response = client.post(
        "/org/members/",
        {"email": "new@example.com", "role": "viewer"},
        REMOTE_ADDR="203.0.113.7",
    )
    assert response.status_code in (200, 302)
    event = AuditEvent.objects.get(account_id=org.principal_id, action="member.invited")
    assert (event.actor_id, event.ip, event.target) == (
        org_owner.pk,
        "203.0.113.7",
        "new@example.com",
    )
