from django.apps import AppConfig


class KeysConfig(AppConfig):
    name = "apps.keys"
    label = "keys"
    verbose_name = "API keys"

    def ready(self):
        from apps.credits.services import SPEND_CAP_CHANGED

        from .services import api_keys_forget_cap

        if api_keys_forget_cap not in SPEND_CAP_CHANGED:
            SPEND_CAP_CHANGED.append(api_keys_forget_cap)
