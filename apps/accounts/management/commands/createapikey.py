from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from apps.accounts.services import user_get_or_create_verified
from apps.core.errors import ServiceError
from apps.core.money import credits_to_micro
from apps.credits.services import credits_adjust
from apps.keys.services import api_key_create


def _credits(value: str, *, option: str, positive: bool) -> int:
    try:
        micro = credits_to_micro(Decimal(value))
    except (InvalidOperation, ValueError) as exc:
        raise CommandError(f"{option} must be a number of credits, got {value!r}.") from exc
    if positive and micro <= 0:
        raise CommandError(f"{option} must be more than 0.")
    if micro == 0:
        raise CommandError(f"{option} must not be 0.")
    return micro


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError as exc:
        raise CommandError(f"expected a whole number, got {value!r}") from exc
    if number <= 0:
        raise CommandError(f"expected a number above 0, got {number}")
    return number


class Command(BaseCommand):
    help = (
        "Create an API key for EMAIL (creating a verified user if needed, with the usual signup "
        "grant) and print only the secret on stdout."
    )

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--name", default="cli", help="key name (default: cli)")
        parser.add_argument(
            "--credits", help="add N credits as an adjustment first (negative deducts)"
        )
        parser.add_argument("--limit", help="the key's credit limit, in credits")
        parser.add_argument("--rpm", help="the key's requests-per-minute limit")
        parser.add_argument("--expires-in", dest="expires_in", help="seconds until the key expires")

    def handle(self, *args, email, name, credits, limit, rpm, expires_in, **options):
        name = name.strip()
        if not name or len(name) > 64:
            raise CommandError("--name must be 1 to 64 characters.")
        adjustment = _credits(credits, option="--credits", positive=False) if credits else None
        credit_limit = _credits(limit, option="--limit", positive=True) if limit else None
        rpm_limit = _positive_int(rpm) if rpm else None
        expires_at = (
            timezone.now() + timedelta(seconds=_positive_int(expires_in)) if expires_in else None
        )
        try:
            with transaction.atomic():
                user, _ = user_get_or_create_verified(email=email)
                if adjustment:
                    credits_adjust(
                        user_id=user.pk,
                        amount=adjustment,
                        reason="createapikey --credits",
                        actor_id=None,
                    )
                _, secret = api_key_create(
                    user_id=user.pk,
                    name=name,
                    expires_at=expires_at,
                    credit_limit=credit_limit,
                    rpm_limit=rpm_limit,
                )
        except ValidationError as exc:
            raise CommandError(f"{email!r} is not a valid e-mail address.") from exc
        except ServiceError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(secret)
