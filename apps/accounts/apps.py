from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Users"  # allauth's e-mail addresses are "Accounts"

    def ready(self):
        from . import receivers  # noqa: F401  (connects allauth's signals)
