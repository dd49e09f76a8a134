from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.usage.rollup import retention_cutoff, rollup_differences


def parse(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--{name} must be a date like 2026-01-31, got {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "Prove the hourly rollups equal the raw usage records for a range (every record the "
        "rollup has counted, read in one snapshot). Exits 1 with the differences if not."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", help="YYYY-MM-DD or an ISO time (default: 24 hours ago)")
        parser.add_argument("--until", help="YYYY-MM-DD or an ISO time (default: now)")

    def handle(self, *args, since=None, until=None, **options):
        now = timezone.now()
        start = parse(since, "since") if since else now - timedelta(hours=24)
        end = parse(until, "until") if until else now + timedelta(hours=1)
        kept = retention_cutoff()
        if start < kept:
            self.stdout.write(f"records before {kept:%Y-%m-%d} are past the retention: from then")
            start = kept
        problems = rollup_differences(since=start, until=end)
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} hourly buckets differ from their records")
        self.stdout.write(f"rollups equal the records from {start:%Y-%m-%d %H:00} UTC")
