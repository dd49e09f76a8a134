import pytest
from allauth.account.models import EmailAddress

from apps.core.money import MICRO
from apps.credits import services as credits
from apps.orgs import services
from apps.orgs.middleware import SESSION_KEY
from tests.factories import UserFactory

ROLES = ("owner", "admin", "billing", "member", "viewer")


def fund(org, credits_=100):
    credits.credits_grant(
        user_id=org.principal_id,
        amount=credits_ * MICRO,
        kind="adjustment",
        reference=f"test-fund-org:{org.pk}:{credits_}",
    )


def join(org, user, role):
    """Make ``user`` a member of ``org`` with ``role`` (through an accepted invitation)."""
    owner = org.memberships.get(role="owner").user
    if not EmailAddress.objects.filter(user=user, verified=True).exists():
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    invitation = services.invitation_create(
        org_id=org.pk, email=user.email, role=role, invited_by_id=owner.pk
    )
    return services.invitation_accept(token=services.invitation_token(invitation), user_id=user.pk)


def act_as(client, org):
    session = client.session
    session[SESSION_KEY] = org.pk if org is not None else None
    if org is None:
        session.pop(SESSION_KEY, None)
    session.save()


@pytest.fixture
def org_owner(db):
    return UserFactory(email="boss@example.com", verified=True)


@pytest.fixture
def org(org_owner):
    return services.organization_create(user_id=org_owner.pk, name="Acme")


@pytest.fixture
def team(org):
    """One person per role in ``org``: {"owner": user, "admin": user, ...}."""
    people = {"owner": org.memberships.get(role="owner").user}
    for role in ROLES[1:]:
        person = UserFactory(email=f"{role}@example.com", verified=True)
        join(org, person, role)
        people[role] = person
    return people
