"""Organizations: create, invite, accept, roles, member caps, removal, deletion."""

from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.services import user_delete
from apps.audit import services as audit
from apps.core.timezones import TIME_ZONES
from apps.credits.models import Account
from apps.credits.services import account_ensure, spend_cap_create, spend_cap_update
from apps.keys.models import ApiKey
from apps.keys.services import api_key_revoke

from .errors import OrgError
from .models import PRINCIPAL_EMAIL_DOMAIN, Invitation, Membership, Organization

User = get_user_model()
Role = Membership.Role

INVITATION_DAYS = 7
INVITATION_SALT = "orgs.invitation"
NAME_MAX = 100


def _email_of(user_id: int) -> str:
    return User.objects.filter(pk=user_id).values_list("email", flat=True).first() or ""


def _record(org: Organization, action: str, *, actor_id: int | None, **fields) -> None:
    """One audit event on the organization's account (in the caller's transaction)."""
    audit.record(account_id=org.principal_id, actor=actor_id, action=action, **fields)


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise OrgError(_("An organization needs a name."))
    if len(name) > NAME_MAX:
        raise OrgError(_("The name is too long (100 characters at most)."))
    return name


def _clean_role(role: str) -> str:
    if role not in Role.values:
        raise OrgError(_("Unknown role."))
    return role


def _membership_for_update(*, org_id: int, user_id: int) -> Membership:
    try:
        return Membership.objects.select_for_update().get(
            organization_id=org_id, user_id=user_id, organization__deleted_at__isnull=True
        )
    except Membership.DoesNotExist as exc:
        raise OrgError(_("That person is not a member of this organization.")) from exc


def _owners_left(org_id: int, *, without_user_id: int) -> int:
    return (
        Membership.objects.filter(organization_id=org_id, role=Role.OWNER)
        .exclude(user_id=without_user_id)
        .count()
    )


def _lock_org(org_id: int) -> Organization:
    try:
        return Organization.objects.select_for_update().get(pk=org_id, deleted_at__isnull=True)
    except Organization.DoesNotExist as exc:
        raise OrgError(_("No such organization.")) from exc


def _add_member(*, org: Organization, user_id: int, role: str) -> Membership:
    cap = spend_cap_create(user_id=org.principal_id)
    return Membership.objects.create(organization=org, user_id=user_id, role=role, spend_cap=cap)


def organization_create(*, user_id: int, name: str, time_zone: str = "UTC") -> Organization:
    """A new organization with its own (empty) credit account; its creator is its owner.

    The principal user owns the money and the keys. It cannot sign in and gets no sign-up grant
    (that is given when a person verifies an e-mail address; the principal has none)."""
    name = _clean_name(name)
    if time_zone not in TIME_ZONES:
        time_zone = "UTC"
    with transaction.atomic():
        principal = User(
            email=f"org-pending-{timezone.now().timestamp()}@{PRINCIPAL_EMAIL_DOMAIN}",
            name=name,
            time_zone=time_zone,
        )
        principal.set_unusable_password()
        principal.save()
        principal.email = f"org-{principal.pk}@{PRINCIPAL_EMAIL_DOMAIN}"
        principal.save(update_fields=["email"])
        org = Organization.objects.create(name=name, principal=principal, time_zone=time_zone)
        account_ensure(user_id=principal.pk)
        _add_member(org=org, user_id=user_id, role=Role.OWNER)
        _record(org, "organization.created", actor_id=user_id, after={"name": name})
    return org


def organization_update(
    *,
    org_id: int,
    name: str | None = None,
    time_zone: str | None = None,
    billing_name: str | None = None,
    billing_address: str | None = None,
    tax_id: str | None = None,
    actor_id: int | None = None,
) -> Organization:
    with transaction.atomic():
        org = _lock_org(org_id)
        names = ("name", "time_zone", "billing_name", "billing_address", "tax_id")
        before = {f: getattr(org, f) for f in names}
        fields = []
        if name is not None:
            org.name = _clean_name(name)
            fields.append("name")
        if time_zone is not None:
            if time_zone not in TIME_ZONES:
                raise OrgError(_("Unknown time zone."))
            org.time_zone = time_zone
            fields.append("time_zone")
            # Usage charts and key windows count days in the principal's zone.
            User.objects.filter(pk=org.principal_id).update(time_zone=time_zone)
        for field, value, limit in (
            ("billing_name", billing_name, 200),
            ("billing_address", billing_address, 1000),
            ("tax_id", tax_id, 64),
        ):
            if value is not None:
                value = value.strip()
                if len(value) > limit:
                    raise OrgError(_("A billing detail is too long."))
                setattr(org, field, value)
                fields.append(field)
        if "name" in fields:
            User.objects.filter(pk=org.principal_id).update(name=org.name)
        if fields:
            org.save(update_fields=fields)
            changed = [f for f in names if getattr(org, f) != before[f]]
            if changed:
                _record(
                    org,
                    "organization.changed",
                    actor_id=actor_id,
                    before={f: before[f] for f in changed},
                    after={f: getattr(org, f) for f in changed},
                )
    return org


# Invitations -----------------------------------------------------------------------------


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps({"i": invitation.pk, "e": invitation.email.lower()}, salt=INVITATION_SALT)


def invitation_url(invitation: Invitation) -> str:
    path = reverse("orgs:accept", kwargs={"token": invitation_token(invitation)})
    return settings.SITE_URL.rstrip("/") + path


def _send_invitation(invitation: Invitation) -> None:
    """The invitation e-mail, in the site's mail layout (text and HTML), in the language of the
    invitee if they have an account, else the inviter's."""
    from allauth.account.adapter import get_adapter
    from django.utils import translation

    from apps.accounts.adapters import email_site
    from apps.core.i18n import supported_language

    inviter = invitation.invited_by
    known = User.objects.filter(email__iexact=invitation.email).first()
    language = supported_language(
        getattr(known, "language", "") or getattr(inviter, "language", "") or ""
    )
    site = email_site()
    with translation.override(language):
        context = {
            "organization": invitation.organization,
            "inviter": inviter.get_full_name() if inviter else "",
            "role": invitation.get_role_display(),
            "accept_url": invitation_url(invitation),
            "days": INVITATION_DAYS,
            "email": invitation.email,
            "current_site": site,
            "site_name": site.name,
            "site_url": site.url,
            "LANGUAGE_CODE": language,
        }
        get_adapter().render_mail("orgs/email/invitation", invitation.email, context).send()


def invitation_create(*, org_id: int, email: str, role: str, invited_by_id: int) -> Invitation:
    """Invite someone by e-mail; the link in the mail expires in INVITATION_DAYS days."""
    email = (email or "").strip().lower()
    role = _clean_role(role)
    if "@" not in email or email.endswith("@" + PRINCIPAL_EMAIL_DOMAIN):
        raise OrgError(_("Enter a valid e-mail address."))
    with transaction.atomic():
        org = _lock_org(org_id)
        _check_can_grant(org_id=org.pk, actor_id=invited_by_id, role=role)
        if (
            Membership.objects.filter(
                organization=org, user__emailaddress__email__iexact=email
            ).exists()
            or Membership.objects.filter(organization=org, user__email__iexact=email).exists()
        ):
            raise OrgError(_("That person is already a member."))
        try:
            with transaction.atomic():
                invitation = Invitation.objects.create(
                    organization=org,
                    email=email,
                    role=role,
                    invited_by_id=invited_by_id,
                    expires_at=timezone.now() + timedelta(days=INVITATION_DAYS),
                )
        except IntegrityError as exc:
            raise OrgError(_("That address already has a pending invitation.")) from exc
        _record(
            org,
            "member.invited",
            actor_id=invited_by_id,
            target=email,
            after={"email": email, "role": role},
        )
        transaction.on_commit(lambda: _send_invitation(invitation))
    return invitation


def _pending_invitation(*, org_id: int, invitation_id: int) -> Invitation:
    try:
        return Invitation.objects.select_for_update().get(
            pk=invitation_id,
            organization_id=org_id,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
        )
    except Invitation.DoesNotExist as exc:
        raise OrgError(_("No such pending invitation.")) from exc


def invitation_resend(*, org_id: int, invitation_id: int) -> Invitation:
    """A fresh link (and a fresh expiry) sent again."""
    with transaction.atomic():
        invitation = _pending_invitation(org_id=org_id, invitation_id=invitation_id)
        invitation.expires_at = timezone.now() + timedelta(days=INVITATION_DAYS)
        invitation.save(update_fields=["expires_at"])
        transaction.on_commit(lambda: _send_invitation(invitation))
    return invitation


def invitation_revoke(
    *, org_id: int, invitation_id: int, actor_id: int | None = None
) -> Invitation:
    with transaction.atomic():
        invitation = _pending_invitation(org_id=org_id, invitation_id=invitation_id)
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        _record(
            invitation.organization,
            "invitation.revoked",
            actor_id=actor_id,
            target=invitation.email,
        )
    return invitation


def invitation_from_token(token: str) -> Invitation:
    """The invitation a link names, if the link is genuine and not expired."""
    try:
        data = signing.loads(token, salt=INVITATION_SALT, max_age=INVITATION_DAYS * 86400)
        invitation = Invitation.objects.select_related("organization").get(pk=int(data["i"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError, Invitation.DoesNotExist) as exc:
        raise OrgError(_("This invitation link is not valid or has expired.")) from exc
    if invitation.email.lower() != str(data.get("e", "")).lower():
        raise OrgError(_("This invitation link is not valid or has expired."))
    return invitation


def invitation_accept(*, token: str, user_id: int) -> Membership:
    """The signed-in person accepts: the invitation must be pending and unexpired, addressed to
    one of their verified e-mail addresses."""
    found = invitation_from_token(token)
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=found.pk)
        org = _lock_org(invitation.organization_id)
        if invitation.revoked_at is not None:
            raise OrgError(_("This invitation was withdrawn."))
        if invitation.accepted_at is not None:
            raise OrgError(_("This invitation was already accepted."))
        if invitation.expires_at <= timezone.now():
            raise OrgError(_("This invitation link is not valid or has expired."))
        if not EmailAddress.objects.filter(
            user_id=user_id, email__iexact=invitation.email, verified=True
        ).exists():
            raise OrgError(
                _("This invitation is for %(email)s: sign in with that (verified) address.")
                % {"email": invitation.email}
            )
        if Membership.objects.filter(organization=org, user_id=user_id).exists():
            raise OrgError(_("You are already a member of this organization."))
        membership = _add_member(org=org, user_id=user_id, role=invitation.role)
        invitation.accepted_at = timezone.now()
        invitation.accepted_by_id = user_id
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        _record(
            org,
            "member.joined",
            actor_id=user_id,
            target=invitation.email,
            after={"email": invitation.email, "role": invitation.role},
        )
    return membership


# Members ----------------------------------------------------------------------------------


def _check_can_grant(*, org_id: int, actor_id: int, role: str) -> None:
    """Only an owner makes (or unmakes) owners."""
    if role != Role.OWNER:
        return
    actor = Membership.objects.filter(organization_id=org_id, user_id=actor_id).first()
    if actor is None or actor.role != Role.OWNER:
        raise OrgError(_("Only an owner can make someone an owner."))


def member_role_set(*, org_id: int, user_id: int, role: str, actor_id: int) -> Membership:
    """A new role; an organization always keeps at least one owner."""
    role = _clean_role(role)
    with transaction.atomic():
        _lock_org(org_id)
        membership = _membership_for_update(org_id=org_id, user_id=user_id)
        _check_can_grant(org_id=org_id, actor_id=actor_id, role=role)
        if membership.role == Role.OWNER:
            _check_can_grant(org_id=org_id, actor_id=actor_id, role=Role.OWNER)
            if role != Role.OWNER and _owners_left(org_id, without_user_id=user_id) == 0:
                raise OrgError(_("An organization must keep at least one owner."))
        previous = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        if previous != role:
            _record(
                membership.organization,
                "member.role_changed",
                actor_id=actor_id,
                target=_email_of(user_id),
                before={"role": previous},
                after={"role": role},
            )
    return membership


def member_limits_set(
    *,
    org_id: int,
    user_id: int,
    monthly_limit: int | None,
    allowed_models=(),
    actor_id: int | None = None,
) -> Membership:
    """The member's monthly cap (µcr, None: none) and model allowlist (empty: all), shared by
    all their keys in the organization; the gateway enforces both."""
    with transaction.atomic():
        membership = _membership_for_update(org_id=org_id, user_id=user_id)
        old = membership.spend_cap
        before = {"monthly_limit": old.monthly_limit, "allowed_models": list(old.allowed_models)}
        cap = spend_cap_update(
            cap_id=membership.spend_cap_id,
            monthly_limit=monthly_limit,
            allowed_models=allowed_models,
        )
        after = {"monthly_limit": cap.monthly_limit, "allowed_models": list(cap.allowed_models)}
        changed = [f for f in after if after[f] != before[f]]
        if changed:
            _record(
                membership.organization,
                "member.limits_changed",
                actor_id=actor_id,
                target=_email_of(user_id),
                before={f: before[f] for f in changed},
                after={f: after[f] for f in changed},
            )
    return membership


def _revoke_member_keys(*, org: Organization, user_id: int, actor_id: int | None) -> int:
    keys = ApiKey.objects.filter(
        user_id=org.principal_id, created_by_id=user_id, revoked_at__isnull=True
    ).values_list("pk", flat=True)
    count = 0
    for key_id in list(keys):
        api_key_revoke(user_id=org.principal_id, key_id=key_id, actor_id=actor_id)
        count += 1
    return count


def member_remove(*, org_id: int, user_id: int, actor_id: int | None) -> int:
    """Remove a member; every key they made in the organization is revoked at once (every
    gateway worker refuses it from the next request). Returns how many keys were revoked."""
    with transaction.atomic():
        org = _lock_org(org_id)
        membership = _membership_for_update(org_id=org_id, user_id=user_id)
        if membership.role == Role.OWNER:
            if actor_id != user_id:
                _check_can_grant(org_id=org_id, actor_id=actor_id, role=Role.OWNER)
            if _owners_left(org_id, without_user_id=user_id) == 0:
                raise OrgError(_("An organization must keep at least one owner."))
        revoked = _revoke_member_keys(org=org, user_id=user_id, actor_id=actor_id)
        membership.delete()  # the spend cap stays: the member's old keys still point at it
        _record(
            org,
            "member.left" if actor_id == user_id else "member.removed",
            actor_id=actor_id,
            target=_email_of(user_id),
            before={"role": membership.role},
            after={"keys_revoked": revoked},
        )
    return revoked


def member_leave(*, org_id: int, user_id: int) -> int:
    return member_remove(org_id=org_id, user_id=user_id, actor_id=user_id)


def ownership_transfer(*, org_id: int, from_user_id: int, to_user_id: int) -> Membership:
    """The owner hands the organization to another member, who becomes owner; the former
    owner stays as an admin."""
    with transaction.atomic():
        _lock_org(org_id)
        current = _membership_for_update(org_id=org_id, user_id=from_user_id)
        if current.role != Role.OWNER:
            raise OrgError(_("Only an owner can transfer ownership."))
        if from_user_id == to_user_id:
            raise OrgError(_("Choose another member."))
        target = _membership_for_update(org_id=org_id, user_id=to_user_id)
        target.role = Role.OWNER
        target.save(update_fields=["role"])
        current.role = Role.ADMIN
        current.save(update_fields=["role"])
        _record(
            target.organization,
            "ownership.transferred",
            actor_id=from_user_id,
            target=_email_of(to_user_id),
        )
    return target


def organization_delete(*, org_id: int, actor_id: int) -> None:
    """Close the organization: refused while its account holds credits, owes (below zero) or
    has requests in flight. Its keys are revoked, its members and invitations go; the money
    records (account, ledger, payments, usage) stay, as when a person deletes their account."""
    with transaction.atomic():
        org = _lock_org(org_id)
        actor = Membership.objects.filter(organization=org, user_id=actor_id).first()
        if actor is None or actor.role != Role.OWNER:
            raise OrgError(_("Only an owner can delete the organization."))
        account = Account.objects.select_for_update().filter(user_id=org.principal_id).first()
        if account is not None and (account.balance != 0 or account.held != 0):
            raise OrgError(
                _(
                    "The organization still has a balance (or owes credits, or has requests "
                    "in flight): it can be deleted only at zero."
                )
            )
        _record(org, "organization.deleted", actor_id=actor_id, before={"name": org.name})
        user_delete(user_id=org.principal_id)  # keys revoked, card and webhooks forgotten
        org.memberships.all().delete()
        org.invitations.filter(accepted_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        org.deleted_at = timezone.now()
        org.save(update_fields=["deleted_at"])


def memberships_close_user(*, user_id: int) -> None:
    """A person deletes their account: they leave every organization (their keys there are
    revoked). Refused if they are the last owner of one."""
    for membership in list(
        Membership.objects.filter(user_id=user_id).select_related("organization")
    ):
        if (
            membership.role == Role.OWNER
            and _owners_left(membership.organization_id, without_user_id=user_id) == 0
        ):
            raise OrgError(
                _(
                    "You are the last owner of the organization “%(name)s”: transfer it to "
                    "another member or delete it first."
                )
                % {"name": membership.organization.name}
            )
        member_remove(org_id=membership.organization_id, user_id=user_id, actor_id=user_id)
