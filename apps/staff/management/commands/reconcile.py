from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from apps.staff.reconcile import reconcile


def _moment(value: str) -> datetime:
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"{value!r} is not a date or a date and time (ISO 8601)")
        moment = datetime(day.year, day.month, day.day)
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "Prove the staff console's figures for [--since, --until): revenue equals the raw "
        "records and the ledger's usage postings; cash in (paid, refunded, net, by method and "
        "currency) equals the payments table and the ledger's top-ups and refunds. Exits "
        "non-zero on a mismatch."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", help="start (UTC date or ISO time; default 30 days ago)")
        parser.add_argument("--until", help="end, exclusive (default now)")

    def handle(self, *args, **options):
        until = _moment(options["until"]) if options["until"] else timezone.now()
        since = _moment(options["since"]) if options["since"] else until - timedelta(days=30)
        if since >= until:
            raise CommandError("--since must be before --until")
        result = reconcile(since=since, until=until)
        self.stdout.write(
            f"window {result.since:%Y-%m-%d %H:%M} – {result.until:%Y-%m-%d %H:%M} UTC"
        )
        for name, (console, source) in result.figures.items():
            self.stdout.write(f"  {name}: {console}" + ("" if source is None else f" / {source}"))
        if not result.ok:
            for problem in result.problems:
                self.stderr.write(f"MISMATCH {problem}")
            raise CommandError(f"{len(result.problems)} mismatch(es)")
        self.stdout.write(self.style.SUCCESS("reconciled: every figure matches"))
