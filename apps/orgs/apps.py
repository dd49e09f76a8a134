from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "apps.orgs"
    label = "orgs"
    verbose_name = "Organizations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from apps.core import recipients

        from . import receivers, selectors  # noqa: F401 (receivers connects its signal)

        recipients.register(selectors.org_recipients)
        recipients.register_billing_details(selectors.org_billing_details)
