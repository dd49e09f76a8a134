from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.catalog.services import CatalogError, catalog_sync


class Command(BaseCommand):
    help = "Load the model catalog (config/catalog.toml or $OPENCODEX_CATALOG) into the database."

    def add_arguments(self, parser):
        parser.add_argument("--file", help="catalog file (default: settings.OPENCODEX_CATALOG)")

    def handle(self, *args, file=None, **options):
        path = Path(file or settings.OPENCODEX_CATALOG)
        try:
            report = catalog_sync(path=path)
        except CatalogError as exc:
            raise CommandError(f"{path}: {exc}") from exc
        self.stdout.write(
            f"Catalog {path}: {report.providers} providers, {len(report.created)} models created, "
            f"{len(report.updated)} updated, {len(report.disabled)} disabled"
            + (f" ({', '.join(report.disabled)})" if report.disabled else "")
        )
