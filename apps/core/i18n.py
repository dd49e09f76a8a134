"""The language a person reads: e-mails are written in their recipient's language (the one they
chose with the language switch or signed up in), not in whatever language happens to be active
in the task or request that sends them."""

from contextlib import contextmanager

from django.conf import settings
from django.utils import translation


def supported_language(language: str | None) -> str:
    """One of settings.LANGUAGES for a language code (zh-TW → zh-hant), else the default."""
    if language:
        try:
            return translation.get_supported_language_variant(language.lower())
        except LookupError:
            pass
    return settings.LANGUAGE_CODE


def language_of(user) -> str:
    return supported_language(getattr(user, "language", "") if user is not None else "")


@contextmanager
def language_of_recipient(user):
    """Render what is inside in ``user``'s language."""
    with translation.override(language_of(user)):
        yield
