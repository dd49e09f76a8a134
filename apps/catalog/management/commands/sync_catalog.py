from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.catalog.services import CatalogError, PriceGuardError, catalog_sync


class Command(BaseCommand):
    help = (
        "Load the model catalog (config/catalog.toml or $OPENCODEX_CATALOG) into the database. "
        "Price changes are listed first; one below an upstream cost or moved by more than "
        "CATALOG_PRICE_FACTOR is refused unless --force."
    )

    def add_arguments(self, parser):
        parser.add_argument("--file", help="catalog file (default: settings.OPENCODEX_CATALOG)")
        parser.add_argument(
            "--dry-run", action="store_true", help="show the price changes, write nothing"
        )
        parser.add_argument(
            "--force", action="store_true", help="apply price changes the guard rails refuse"
        )

    def handle(self, *args, file=None, dry_run=False, force=False, **options):
        path = Path(file or settings.OPENCODEX_CATALOG)
        try:
            report = catalog_sync(path=path, force=force, dry_run=dry_run)
        except PriceGuardError as exc:
            raise CommandError(f"{path}: {exc}\nNothing was written.") from exc
        except CatalogError as exc:
            raise CommandError(f"{path}: {exc}") from exc
        changed = [d for d in report.prices if d.old is not None or d.model in report.updated]
        if changed:
            self.stdout.write("Price changes (US$ per 1M tokens; request_price per request):")
            for diff in changed:
                forced = "  (forced)" if diff.refused and report.applied else ""
                self.stdout.write(f"  {diff}{forced}")
        if dry_run:
            self.stdout.write(f"Dry run of {path}: nothing was written.")
            return
        self.stdout.write(
            f"Catalog {path}: {report.providers} providers, {len(report.created)} models created, "
            f"{len(report.updated)} updated, {len(report.disabled)} disabled"
            + (f" ({', '.join(report.disabled)})" if report.disabled else "")
        )
