import pytest
from django.utils import translation

from apps.webhooks import services

from .receiver import Receiver

ALL_EVENTS = list(services.EVENT_TYPES)


@pytest.fixture(autouse=True)
def _english():
    """Messages in English, whatever language an earlier test's request left active."""
    with translation.override("en"):
        yield


@pytest.fixture
def receiver(settings):
    """A verifying receiver on loopback; loopback URLs allowed (as in development only)."""
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    with Receiver() as running:
        yield running


@pytest.fixture
def endpoint_for(receiver):
    """An endpoint of ``user`` at the receiver's ``path``; the receiver knows its secret."""

    def make(user, path="/hooks", events=None, **kwargs):
        endpoint, secret = services.endpoint_create(
            user_id=user.pk, url=receiver.url(path), event_types=events or ALL_EVENTS, **kwargs
        )
        receiver.secrets.setdefault(path, []).append(secret)
        return endpoint, secret

    return make
