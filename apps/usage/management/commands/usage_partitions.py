from django.core.management.base import BaseCommand

from apps.usage.partitions import partitions_ensure, retention_apply


class Command(BaseCommand):
    help = (
        "Create the usage table's daily partitions ahead and apply USAGE_RETENTION_DAYS "
        "(what beat runs every hour)."
    )

    def handle(self, *args, **options):
        created = partitions_ensure()
        result = retention_apply()
        self.stdout.write(
            f"created {len(created)} partitions, dropped {len(result['dropped'])}, "
            f"deleted {result['deleted']} old records outside partitions"
        )
