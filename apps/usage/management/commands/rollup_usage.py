from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from apps.usage.rollup import RollupBusy, retention_cutoff, rollup_rebuild, rollup_step


class Command(BaseCommand):
    help = (
        "Count new usage records into the hourly rollups (what beat runs every minute), or with "
        "--since rebuild the rollups from the raw records from that date to now."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", help="YYYY-MM-DD or an ISO time: rebuild from then")

    def handle(self, *args, since=None, **options):
        try:
            if not since:
                run = rollup_step()
                self.stdout.write(
                    f"{run.records} new records counted into {run.buckets} hourly buckets, "
                    f"{run.postings} ledger postings (positions {run.start}-{run.end})"
                )
                return
            try:
                start = datetime.fromisoformat(since)
            except ValueError as exc:
                raise CommandError(
                    f"--since must be a date like 2026-01-31, got {since!r}"
                ) from exc
            if start.tzinfo is None:
                start = start.replace(tzinfo=UTC)
            kept = retention_cutoff()
            if start < kept:
                raise CommandError(
                    f"records before {kept:%Y-%m-%d} are past USAGE_RETENTION_DAYS and may be "
                    "gone: rebuilding those hours would lose their rollups"
                )
            written = rollup_rebuild(since=start)
        except RollupBusy as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{written} hourly buckets rebuilt since {start:%Y-%m-%d %H:00} UTC")
