"""Each role × each page: the status a member of each role gets, for pages, htmx fragments and
CSV exports; and nothing of another organization can be reached by guessing its ids."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.roles import PERMISSIONS, ROLES
from apps.keys.models import ApiKey
from apps.keys.services import api_key_create
from apps.orgs import services
from apps.orgs.models import Membership
from apps.usage.models import UsageHour
from apps.usage.rollup import rollup_step
from apps.webhooks.models import WebhookEndpoint
from tests.factories import UserFactory
from tests.usage.factories import record

from .conftest import act_as, join

ALL = set(ROLES)
OW, A, B, M, V = "owner", "admin", "billing", "member", "viewer"

# (method, url template, roles → expected status; a role not listed gets ``other``)
# {key}: a key made by the admin; {own}: the key made by the member; {req}: a request of the
# admin's key; {endpoint}: a webhook endpoint; {person}: the member's user id; {inv}: a pending
# invitation.
TABLE = [
    ("get", "/dashboard/", dict.fromkeys(ALL, 200), None),
    ("get", "/keys/", {OW: 200, A: 200, M: 200}, 403),
    ("hx", "/keys/", {OW: 200, A: 200, M: 200}, 403),
    ("get", "/keys/{key}/", {OW: 200, A: 200, M: 404}, 403),
    ("get", "/keys/{own}/", {OW: 200, A: 200, M: 200}, 403),
    ("get", "/keys/{key}/rotate/", {OW: 200, A: 200, M: 404}, 403),
    ("get", "/keys/{key}/revoke/", {OW: 200, A: 200, M: 404}, 403),
    ("get", "/billing/", {OW: 200, B: 200}, 403),
    ("post", "/billing/budget/", {OW: 302, B: 302}, 403),
    ("post", "/billing/low-balance/", {OW: 302, B: 302}, 403),
    ("post", "/billing/auto-top-up/", {OW: 400, B: 400}, 403),
    ("get", "/usage/", {OW: 200, A: 200, B: 200, V: 200, M: 302}, None),
    ("hx", "/usage/", {OW: 200, A: 200, B: 200, V: 200}, 403),
    ("get", "/usage/requests/", {OW: 200, A: 200, B: 200, V: 200}, 403),
    ("hx", "/usage/requests/", {OW: 200, A: 200, B: 200, V: 200}, 403),
    ("get", "/usage/requests.csv", {OW: 200, A: 200, B: 200, V: 200}, 403),
    ("get", "/usage/hourly.csv", {OW: 200, A: 200, B: 200, V: 200}, 403),
    ("get", "/usage/requests/{req}/", {OW: 200, A: 200, B: 200, V: 200}, 403),
    ("get", "/playground/", {OW: 200, A: 200, M: 200}, 403),
    ("get", "/account/webhooks/", {OW: 200, A: 200}, 403),
    ("get", "/account/webhooks/{endpoint}/", {OW: 200, A: 200}, 403),
    ("get", "/org/members/", {OW: 200, A: 200}, 403),
    ("hx", "/org/members/", {OW: 200, A: 200}, 403),
    ("post", "/org/members/{person}/limits/", {OW: 302, A: 302}, 403),
    ("post", "/org/members/{person}/role/", {OW: 302, A: 302}, 403),
    ("post", "/org/invitations/{inv}/resend/", {OW: 302, A: 302}, 403),
    ("get", "/org/settings/", dict.fromkeys(ALL, 200), None),
    ("post", "/org/settings/general/", {OW: 200}, 403),
    ("post", "/org/settings/billing/", {OW: 302, B: 302}, 403),
    ("post", "/org/settings/transfer/", {OW: 200}, 403),
    ("post", "/org/settings/delete/", {OW: 200}, 403),
    ("get", "/org/usage/", dict.fromkeys(ALL, 200), None),
    ("get", "/org/usage/?format=csv", dict.fromkeys(ALL, 200), None),
]


@pytest.fixture
def world(org, team):
    admin_key, _ = api_key_create(
        user_id=org.principal_id, name="admins-key", created_by_id=team[A].pk
    )
    cap = Membership.objects.get(organization=org, user=team[M]).spend_cap
    own_key, _ = api_key_create(
        user_id=org.principal_id, name="members-key", created_by_id=team[M].pk, spend_cap_id=cap.pk
    )
    req = record(org.principal, at=timezone.now(), key=admin_key, cost=5000)
    record(org.principal, at=timezone.now(), key=own_key, cost=7000, model="member-model")
    endpoint = WebhookEndpoint.objects.create(
        user=org.principal, url="https://example.com/hook", secret_sealed="x", event_types=[]
    )
    invitation = services.invitation_create(
        org_id=org.pk, email="later@example.com", role="viewer", invited_by_id=team[OW].pk
    )
    return {
        "key": admin_key.pk,
        "own": own_key.pk,
        "req": req.request_id,
        "endpoint": endpoint.pk,
        "person": team[M].pk,
        "inv": invitation.pk,
    }


POST_DATA = {
    "/billing/budget/": {"budget": "100"},
    "/billing/low-balance/": {"threshold": "10"},
    "/org/members/{person}/limits/": {"m{person}-monthly_cap": "5", "m{person}-allowed_models": ""},
    "/org/members/{person}/role/": {"m{person}-role": "member"},
    "/org/settings/billing/": {"billing_name": "Acme Ltd"},
}


def _request(client, method, url, data):
    if method == "get":
        return client.get(url)
    if method == "hx":
        return client.get(url, headers={"HX-Request": "true"})
    return client.post(url, data)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "template", "expected", "other"), TABLE)
def test_role_page_matrix(client, org, team, world, role, method, template, expected, other):
    client.force_login(team[role])
    act_as(client, org)
    url = template.format(**world)
    data = {k.format(**world): v for k, v in POST_DATA.get(template, {}).items()}
    response = _request(client, method, url, data)
    want = expected.get(role, other)
    assert response.status_code == want, (role, method, url, response.status_code)
    if want == 302 and template == "/usage/":
        assert response["Location"] == "/org/usage/"


def test_member_sees_only_their_own_keys_and_usage(client, org, team, world):
    rollup_step()  # the by-member page reads the hourly rollups
    client.force_login(team[M])
    act_as(client, org)
    page = client.get("/keys/").content.decode()
    assert "members-key" in page and "admins-key" not in page
    usage = client.get("/org/usage/").content.decode()
    assert "member-model" in usage and "demo-chat" not in usage
    csv = b"".join(client.get("/org/usage/?format=csv").streaming_content).decode()
    assert "member-model" in csv and "admins-key" not in csv
    # The owner sees everyone's, with who made each key.
    client.force_login(team[OW])
    act_as(client, org)
    keys = client.get("/keys/").content.decode()
    assert "members-key" in keys and "admins-key" in keys
    assert "by member@example.com" in keys and "by admin@example.com" in keys
    usage = client.get("/org/usage/").content.decode()
    assert "member-model" in usage and "demo-chat" in usage


def test_member_key_is_made_in_the_org_with_their_cap(client, org, team):
    client.force_login(team[M])
    act_as(client, org)
    response = client.post(
        "/keys/", {"name": "made-here", "token": "3f1e8e0c-9c7e-4c2e-8d6f-1b2a3c4d5e6f"}
    )
    assert response.status_code == 302
    key = ApiKey.objects.get(name="made-here")
    membership = Membership.objects.get(organization=org, user=team[M])
    assert key.user_id == org.principal_id
    assert key.created_by_id == team[M].pk
    assert key.spend_cap_id == membership.spend_cap_id


def test_personal_account_unchanged_for_a_member(client, org, team):
    """Back in their personal account, the member sees their own keys, not the org's."""
    personal, _ = api_key_create(user_id=team[M].pk, name="personal-key")
    api_key_create(user_id=org.principal_id, name="org-key", created_by_id=team[M].pk)
    client.force_login(team[M])
    act_as(client, None)
    page = client.get("/keys/").content.decode()
    assert "personal-key" in page and "org-key" not in page
    assert client.get(f"/keys/{personal.pk}/").status_code == 200


@pytest.fixture
def other_org(db):
    boss = UserFactory(email="other-boss@example.com", verified=True)
    other = services.organization_create(user_id=boss.pk, name="Other Inc")
    key, _ = api_key_create(user_id=other.principal_id, name="other-key", created_by_id=boss.pk)
    req = record(other.principal, at=timezone.now(), key=key, cost=1000)
    endpoint = WebhookEndpoint.objects.create(
        user=other.principal, url="https://example.com/other", secret_sealed="x", event_types=[]
    )
    outsider = UserFactory(email="other-member@example.com", verified=True)
    join(other, outsider, "member")
    invitation = services.invitation_create(
        org_id=other.pk, email="x@example.com", role="member", invited_by_id=boss.pk
    )
    return {
        "org": other,
        "key": key,
        "req": req,
        "endpoint": endpoint,
        "member": outsider,
        "inv": invitation,
    }


@pytest.mark.parametrize("role", [OW, A])
def test_cross_org_ids_are_not_found(client, org, team, other_org, role):
    client.force_login(team[role])
    act_as(client, org)
    key, req, endpoint = other_org["key"], other_org["req"], other_org["endpoint"]
    person, inv = other_org["member"], other_org["inv"]
    for url in (
        f"/keys/{key.pk}/",
        f"/keys/{key.pk}/rotate/",
        f"/usage/requests/{req.request_id}/",
        f"/account/webhooks/{endpoint.pk}/",
    ):
        assert client.get(url).status_code == 404, url
    # Replayed forms against the other organization's objects change nothing.
    assert client.post(f"/keys/{key.pk}/revoke/").status_code == 404
    client.post(f"/org/members/{person.pk}/remove/")
    client.post(
        f"/org/members/{person.pk}/limits/",
        {f"m{person.pk}-monthly_cap": "0", f"m{person.pk}-allowed_models": "x"},
    )
    client.post(f"/org/invitations/{inv.pk}/revoke/")
    key.refresh_from_db()
    inv.refresh_from_db()
    assert key.revoked_at is None
    assert inv.revoked_at is None
    membership = Membership.objects.get(organization=other_org["org"], user=person)
    assert membership.spend_cap.monthly_limit is None
    # The search box does not find the other organization's request either.
    response = client.get(f"/usage/requests/find/?id={req.request_id}")
    # Not found in the acting account: back to its own log, the id kept in the search box.
    assert response["Location"] == f"/usage/requests/?id={req.request_id}"


def test_switching_to_an_org_one_is_not_in_is_refused(client, org, other_org, team):
    client.force_login(team[OW])
    response = client.post("/org/switch/", {"org": other_org["org"].pk})
    assert response.status_code == 404
    assert "orgs_acting" not in client.session


def test_removed_member_falls_back_to_personal(client, org, team):
    client.force_login(team[M])
    response = client.post("/org/switch/", {"org": org.pk, "next": "/keys/"})
    assert response.status_code == 302 and response["Location"] == "/keys/"
    assert client.session["orgs_acting"] == org.pk
    services.member_remove(org_id=org.pk, user_id=team[M].pk, actor_id=team[OW].pk)
    page = client.get("/dashboard/")
    assert page.status_code == 200
    assert "orgs_acting" not in client.session
    assert page.context["request"].acting_user == team[M]


def test_switch_back_to_personal(client, org, team):
    client.force_login(team[OW])
    client.post("/org/switch/", {"org": org.pk})
    assert client.get("/dashboard/").context["request"].acting_user == org.principal
    client.post("/org/switch/", {"org": ""})
    assert client.get("/dashboard/").context["request"].acting_user == team[OW]


def test_every_permission_is_in_the_table():
    assert set(PERMISSIONS) >= {"keys", "billing", "usage", "members", "org.owner"}
    for roles in PERMISSIONS.values():
        assert roles <= ALL


def test_usage_by_member_sums_the_rollups_by_member_key_and_model(client, org, team, world):
    """Per member, key and model, from the hourly buckets: a later record in the same hour
    adds to its bucket, a key's requests and credits add up, and the CSV says the same."""
    own = ApiKey.objects.get(pk=world["own"])
    record(org.principal, at=timezone.now(), key=own, cost=3000, model="member-model")
    rollup_step()
    client.force_login(team[OW])
    act_as(client, org)
    report = client.get("/org/usage/").context["report"]
    by_key = {(r["api_key__name"], r["model"]): r for r in report["rows"]}
    assert by_key[("members-key", "member-model")]["requests"] == 2
    assert by_key[("members-key", "member-model")]["cost"] == 10000
    assert by_key[("members-key", "member-model")]["api_key__created_by__email"] == (
        "member@example.com"
    )
    assert by_key[("admins-key", "demo-chat")]["cost"] == 5000
    assert report["total"] == 15000
    csv = b"".join(client.get("/org/usage/?format=csv").streaming_content).decode()
    assert "member@example.com,members-key,member-model,2,0.01" in csv


def test_usage_by_member_counts_deleted_keys_as_one_row_per_model(client, org, team, world):
    """A key deleted after its hours were rolled up (its id still in them) and an hour rebuilt
    after a deletion (key 0) are the same "no key" row."""
    rollup_step()
    ApiKey.objects.get(pk=world["key"]).delete()  # the admin's, with a demo-chat record
    earlier = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    if earlier.month != timezone.now().month:  # this month's page: stay inside the month
        earlier = earlier + timedelta(hours=1)
    UsageHour.objects.create(
        hour=earlier, user=org.principal, key_id=0, model="demo-chat", requests=1, cost=1000
    )
    client.force_login(team[OW])
    act_as(client, org)
    rows = client.get("/org/usage/").context["report"]["rows"]
    keyless = [r for r in rows if r["api_key_id"] is None]
    assert len(keyless) == 1
    assert keyless[0]["model"] == "demo-chat" and keyless[0]["requests"] == 2
    assert keyless[0]["cost"] == 6000
