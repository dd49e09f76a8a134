from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "apps.orgs"
    label = "orgs"
    verbose_name = "Organizations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from apps.core import recipients

        from . import receivers

        recipients.register(receivers.org_recipients)
        recipients.register_billing_details(receivers.org_billing_details)
