from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.urls import reverse


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        from apps.credits.services import account_ensure

        user = super().save_user(request, user, form, commit=commit)
        if commit:
            account_ensure(user_id=user.pk)
        return user

    def get_email_verification_redirect_url(self, email_address):
        if self.request.user.is_authenticated:
            return reverse(settings.ACCOUNT_EMAIL_CONFIRMATION_AUTHENTICATED_REDIRECT_URL)
        return super().get_email_verification_redirect_url(email_address)
