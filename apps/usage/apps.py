from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "apps.usage"
    label = "usage"
    verbose_name = "Usage"

    def ready(self):
        from apps.credits.selectors import PENDING_SOURCES

        from .rollup import unposted_by_account

        if unposted_by_account not in PENDING_SOURCES:
            PENDING_SOURCES.append(unposted_by_account)
