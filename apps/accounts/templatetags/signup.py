from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def pending_signup(context):
    """The sign-up this browser waits to verify (apps.accounts.pending), or None."""
    from apps.accounts.pending import pending_signup_status

    request = context.get("request")
    return pending_signup_status(request) if request is not None else None


@register.simple_tag
def email_change_form():
    from apps.accounts.forms import EmailChangeForm

    return EmailChangeForm()


@register.simple_tag
def signup_grant_credits():
    from django.conf import settings

    return settings.SIGNUP_GRANT_CREDITS
