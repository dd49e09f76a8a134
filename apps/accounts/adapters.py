from dataclasses import dataclass
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp
from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import Http404
from django.template import TemplateDoesNotExist
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils import translation

from apps.core.i18n import supported_language

SITE_NAME = "OpenCodex"


@dataclass(frozen=True)
class EmailSite:
    """What allauth's e-mails call ``current_site``: the product's name and public address,
    not the host the request happened to use ("Hello from 127.0.0.1:8100!")."""

    name: str
    domain: str
    url: str


def email_site() -> EmailSite:
    url = settings.SITE_URL
    return EmailSite(name=SITE_NAME, domain=urlsplit(url).netloc or url, url=url)


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        from apps.credits.services import account_ensure

        # The language the person signed up in is the language of their e-mails until they
        # choose another with the language switch.
        user.language = supported_language(translation.get_language())
        user = super().save_user(request, user, form, commit=commit)
        if commit:
            account_ensure(user_id=user.pk)
        return user

    def login(self, request, user):
        """Someone who signed up before e-mails had a language gets the one they sign in with
        (until they choose one with the language switch)."""
        super().login(request, user)
        if not user.language:
            from .services import user_language_set

            language = supported_language(translation.get_language())
            user_language_set(user_id=user.pk, language=language)
            user.language = language

    def get_email_verification_redirect_url(self, email_address):
        if self.request.user.is_authenticated:
            return reverse(settings.ACCOUNT_EMAIL_CONFIRMATION_AUTHENTICATED_REDIRECT_URL)
        return super().get_email_verification_redirect_url(email_address)

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        from allauth.core import context as allauth_context

        from .pending import verification_mail_sent

        site = email_site()
        user = context.get("user")
        if user is None or not getattr(user, "pk", None):
            user = get_user_model().objects.filter(email__iexact=email).first()
        # In the recipient's language; someone we do not know (yet) in the page's.
        language = supported_language(getattr(user, "language", "") or translation.get_language())
        with translation.override(language):
            super().send_mail(
                template_prefix,
                email,
                {
                    **context,
                    "current_site": site,
                    "site_name": site.name,
                    "site_url": site.url,
                    "LANGUAGE_CODE": language,  # the HTML part's lang
                },
            )
        verification_mail_sent(
            getattr(allauth_context, "request", None), template_prefix=template_prefix, email=email
        )

    def render_mail(self, template_prefix, email, context, headers=None):
        """Every e-mail has a plain text part and an HTML part in the site's colours: the
        message's own ``_message.html`` when it has one, else its text in the common layout."""
        msg = super().render_mail(template_prefix, email, context, headers=headers)
        if not getattr(msg, "alternatives", None) and msg.content_subtype == "plain":
            try:
                get_template(f"{template_prefix}_message.html")
            except TemplateDoesNotExist:
                html = render_to_string(
                    "email/text_as_html.html",
                    {**context, "subject": msg.subject, "text": msg.body},
                )
                msg.attach_alternative(html, "text/html")
        return msg


class ProviderOff(Http404, SocialApp.DoesNotExist):
    """A provider without a client id and secret: its URLs answer 404 (allauth's own callers,
    which expect SocialApp.DoesNotExist, still see one)."""


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Sign in with GitHub or Google (settings.SOCIALACCOUNT_PROVIDERS, from the environment)."""

    def get_app(self, request, provider, client_id=None):
        try:
            return super().get_app(request, provider, client_id=client_id)
        except SocialApp.DoesNotExist as off:
            raise ProviderOff(f"Sign-in with {provider} is not configured.") from off

    def populate_user(self, request, sociallogin, data):
        user = super().populate_user(request, sociallogin, data)
        extra = sociallogin.account.extra_data or {}
        given = " ".join(part for part in (data.get("first_name"), data.get("last_name")) if part)
        user.name = (data.get("name") or extra.get("name") or given or "").strip()[:150]
        return user

    def save_user(self, request, sociallogin, form=None):
        """A new account from a provider: the language it signed up in, a credit account, and
        the free credits once its address is verified, exactly as an e-mail sign-up gets them
        (at once when the provider vouches for the address, else after the usual e-mail)."""
        from .services import user_social_addresses_verified

        sociallogin.user.language = supported_language(translation.get_language())
        user = super().save_user(request, sociallogin, form=form)
        user_social_addresses_verified(user_id=user.pk, emails=verified_emails(sociallogin))
        return user


def verified_emails(sociallogin) -> list[str]:
    """The addresses the provider says it verified; no other is ever trusted."""
    return [address.email for address in sociallogin.email_addresses if address.verified]
