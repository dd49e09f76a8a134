"""The Standard Webhooks scheme, checked against the reference library: secrets, signatures,
and a receiver on loopback verifying real deliveries (also while a rolled secret overlaps)."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from apps.webhooks import services, signing
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_secret_is_whsec_and_32_random_bytes_in_base64():
    secret = signing.secret_new()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert secret != signing.secret_new()


def test_the_signature_is_the_reference_librarys():
    secret, body = signing.secret_new(), b'{"type":"webhook.test","data":{"n":"\xc3\xa9"}}'
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    ours = signing.signature(
        secret, message_id="msg_1", timestamp=int(moment.timestamp()), body=body
    )
    assert ours == Webhook(secret).sign("msg_1", moment, body)
    headers = signing.headers(
        [secret], message_id="msg_1", timestamp=int(moment.timestamp()), body=body
    )
    with time_machine.travel(moment + timedelta(seconds=30)):
        assert Webhook(secret).verify(body, headers)["data"] == {"n": "é"}
        with pytest.raises(WebhookVerificationError):
            Webhook(signing.secret_new()).verify(body, headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(body + b" ", headers)
    with (
        time_machine.travel(moment + timedelta(minutes=6)),
        pytest.raises(WebhookVerificationError),
    ):
        Webhook(secret).verify(body, headers)  # a replay after the library's 5-minute tolerance


def test_the_secret_is_sealed_at_rest(owner, endpoint_for):
    endpoint, secret = endpoint_for(owner)
    stored = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert secret not in stored.secret_sealed
    assert secret.removeprefix("whsec_") not in json.dumps(
        list(WebhookEndpoint.objects.values()), default=str
    )
    assert services.endpoint_secrets(stored) == [secret]


def test_a_receiver_on_loopback_verifies_every_delivery(owner, receiver, endpoint_for):
    endpoint, secret = endpoint_for(owner)
    delivery = services.webhook_test_send(user_id=owner.pk, endpoint_id=endpoint.pk)
    [got] = receiver.received
    assert got.verified, got.error
    assert got.id == delivery.message_id and got.id.startswith("msg_")
    assert got.headers["webhook-signature"].startswith("v1,")
    assert got.headers["content-type"] == "application/json"
    payload = Webhook(secret).verify(got.body, got.headers)
    assert payload["type"] == "webhook.test" and payload["data"]["endpoint_id"] == endpoint.pk
    assert payload["timestamp"].endswith("Z")
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED and delivery.attempts == 1


def test_a_rolled_secret_signs_beside_the_new_one_for_a_day(owner, receiver, endpoint_for):
    endpoint, old = endpoint_for(owner)
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False) as clock:
        new = services.endpoint_secret_roll(user_id=owner.pk, endpoint_id=endpoint.pk)
        assert new != old
        services.webhook_test_send(user_id=owner.pk, endpoint_id=endpoint.pk)
        got = receiver.received[-1]
        assert len(got.headers["webhook-signature"].split(" ")) == 2
        Webhook(old).verify(got.body, got.headers)  # receivers still on the old secret
        Webhook(new).verify(got.body, got.headers)  # and those that switched
        clock.shift(timedelta(hours=24, seconds=1))
        services.webhook_test_send(user_id=owner.pk, endpoint_id=endpoint.pk)
        got = receiver.received[-1]
        assert len(got.headers["webhook-signature"].split(" ")) == 1
        Webhook(new).verify(got.body, got.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(old).verify(got.body, got.headers)


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_the_docs_check_without_a_library_accepts_our_signatures(client, language):
    """The docs' own Python sample (verifying without a library), run on a real signature."""
    from tests.docs.test_pages import code_blocks

    page = client.get("/docs/webhooks/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    samples = [code for lang, code in code_blocks(page) if lang == "python"]
    assert any("from standardwebhooks.webhooks import Webhook" in code for code in samples)
    namespace: dict = {}
    exec(compile(samples[-1], "docs-sample", "exec"), namespace)  # noqa: S102 (our own docs)
    verify = namespace["verify"]
    secret, body = signing.secret_new(), b'{"type":"webhook.test","data":{}}'
    now = int(datetime.now(UTC).timestamp())
    headers = signing.headers(
        [signing.secret_new(), secret], message_id="msg_1", timestamp=now, body=body
    )
    assert verify(secret, headers, body)
    assert not verify(secret, headers, body + b" ")
    assert not verify(signing.secret_new(), headers, body)
    replayed = signing.headers([secret], message_id="msg_1", timestamp=now - 600, body=body)
    assert not verify(secret, replayed, body)  # well signed, but ten minutes old
