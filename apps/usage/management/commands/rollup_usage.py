from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.usage.services import RollupBusy, usage_rollup


class Command(BaseCommand):
    help = "Rebuild the hourly usage rollups from the raw records, from --since (a date) to now."

    def add_arguments(self, parser):
        parser.add_argument("--since", help="YYYY-MM-DD or an ISO time (default: 2 hours ago)")

    def handle(self, *args, since=None, **options):
        if since:
            try:
                start = datetime.fromisoformat(since)
            except ValueError as exc:
                raise CommandError(
                    f"--since must be a date like 2026-01-31, got {since!r}"
                ) from exc
            if start.tzinfo is None:
                start = start.replace(tzinfo=UTC)
        else:
            start = timezone.now() - timedelta(hours=2)
        try:
            written = usage_rollup(since=start)
        except RollupBusy as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{written} hourly buckets rebuilt since {start:%Y-%m-%d %H:00} UTC")
