from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "apps.usage"
    label = "usage"
    verbose_name = "Usage"

    def ready(self):
        from apps.core.metrics import register_database_collector
        from apps.credits.selectors import PENDING_SOURCES

        from .metrics import DATABASE_COLLECTOR
        from .rollup import unposted_by_account

        if unposted_by_account not in PENDING_SOURCES:
            PENDING_SOURCES.append(unposted_by_account)
        from apps.keys.selectors import SPEND_SOURCES

        from .selectors import keys_charged_since

        if keys_charged_since not in SPEND_SOURCES:
            SPEND_SOURCES.append(keys_charged_since)
        # /metrics' database gauges; ready() may run again (a re-populated app registry), and
        # the one collector is registered once.
        register_database_collector(DATABASE_COLLECTOR)
