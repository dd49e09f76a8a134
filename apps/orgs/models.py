"""Organizations: one wallet shared by members with roles.

An organization is backed by its own *principal* user row, which owns everything about money
(credit account, ledger, holds, keys, payments, budgets, alerts, usage, webhooks), so every
service keyed by ``user_id`` serves an organization unchanged. The principal can never sign in
(no usable password, an address at ``organizations.invalid``, no verified e-mail) and never
gets the sign-up grant (that is given on e-mail verification).
"""

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

PRINCIPAL_EMAIL_DOMAIN = "organizations.invalid"


class Organization(models.Model):
    name = models.CharField(max_length=100)
    principal = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="organization",
        help_text="the user row that owns the organization's credit account, keys and usage",
    )
    billing_name = models.CharField(max_length=200, blank=True)
    billing_address = models.TextField(blank=True)
    tax_id = models.CharField(max_length=64, blank=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        ADMIN = "admin", _("Admin")
        BILLING = "billing", _("Billing")
        MEMBER = "member", _("Member")
        VIEWER = "viewer", _("Viewer")

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    spend_cap = models.OneToOneField(
        "credits.SpendCap",
        on_delete=models.PROTECT,
        related_name="membership",
        help_text="the member's monthly cap and model allowlist, shared by their keys",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="orgs_member_unique")
        ]

    def __str__(self):
        return f"{self.user} in {self.organization} ({self.role})"


class Invitation(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Membership.Role.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "organization",
                Lower("email"),
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="orgs_invitation_pending_unique",
            )
        ]

    def __str__(self):
        return f"{self.email} to {self.organization}"
