"""The webhooks settings page through Django's test client: add an endpoint (its secret shown
once, form errors kept), turn it on and off, send a test event and read the delivery log, roll
the secret, delete; an outsider can neither see nor touch another's endpoint."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from standardwebhooks import Webhook

from apps.keys import services as keys
from apps.webhooks import services
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint

from .conftest import ALL_EVENTS

pytestmark = pytest.mark.django_db(transaction=True)
LIST = reverse("webhooks:list")
SECRET = re.compile(r'id="new-secret"[^>]*value="(whsec_[A-Za-z0-9+/=]+)"')


def add(client, receiver, path="/hooks", events=("key.created", "key.revoked"), **extra):
    return client.post(LIST, {"url": receiver.url(path), "events": list(events), **extra})


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(LIST)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_account_menu_links_the_page(owner_client):
    assert f'href="{LIST}"' in owner_client.get(reverse("dashboard")).content.decode()


def test_adding_an_endpoint_shows_its_secret_once(owner, owner_client, receiver):
    body = owner_client.get(LIST).content.decode()
    assert "Add your first endpoint" in body and "balance.low" in body
    response = add(owner_client, receiver, description="prod")
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("webhooks:detail", args=[endpoint.pk])
    page = owner_client.get(response["Location"])
    assert page["Cache-Control"] == "no-store"
    secret = SECRET.search(page.content.decode()).group(1)
    assert services.endpoint_secrets(endpoint) == [secret]
    again = owner_client.get(response["Location"]).content.decode()
    assert "whsec_" in again and not SECRET.search(again)  # shown once: now only "whsec_…"
    assert endpoint.event_types == ["key.created", "key.revoked"]
    assert endpoint.description == "prod" and endpoint.user == owner
    listed = owner_client.get(LIST).content.decode()
    assert receiver.url() in listed and "prod" in listed and secret not in listed


def test_adding_through_htmx_swaps_in_the_secret(owner_client, receiver):
    response = owner_client.post(
        LIST,
        {"url": receiver.url(), "events": ["key.created"]},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<div id="webhooks-area"')
    assert SECRET.search(body) and response["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"url": "ftp://example.com/hook", "events": ["key.created"]}, "must start with https://"),
        ({"url": "https://user:pw@93.184.215.14/", "events": ["key.created"]}, "user name"),
        ({"url": "http://127.0.0.1:9/hook", "events": ["key.created"]}, "public internet"),
        ({"url": "https://93.184.215.14/hook", "events": []}, "Choose at least one event."),
        ({"url": "https://93.184.215.14/hook", "events": ["nope"]}, "not one of the available"),
        ({"url": "", "events": ["key.created"]}, "This field is required."),
    ],
)
def test_form_errors_are_shown_and_what_was_typed_kept(owner_client, settings, form, error):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    response = owner_client.post(LIST, {**form, "description": "kept text"})
    body = response.content.decode()
    assert response.status_code == 400 and error in body
    assert 'value="kept text"' in body
    if form["url"]:
        assert f'value="{form["url"]}"' in body
    for kind in form["events"]:
        if kind != "nope":
            assert re.search(rf'value="{re.escape(kind)}" id="event-\d+" checked', body)
    assert not WebhookEndpoint.objects.exists()


def test_form_errors_through_htmx_come_back_in_the_fragment(owner_client):
    """htmx swaps only 2xx answers: the form with its errors is a 200 to htmx."""
    response = owner_client.post(
        LIST, {"url": "ftp://example.com/", "events": ["key.created"]}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<div id="webhooks-area"')
    assert "must start with https://" in body and not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/hooks", "http://169.254.169.254/latest/"])
def test_the_settings_page_refuses_them_with_production_settings(owner_client, settings, url):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False  # production's value
    response = owner_client.post(reverse("webhooks:list"), {"url": url, "events": ALL_EVENTS})
    assert response.status_code == 400
    assert "public internet addresses" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_at_most_the_allowed_number_of_endpoints(owner, owner_client, receiver, settings):
    settings.WEBHOOK_ENDPOINTS_MAX = 2
    for n in range(2):
        assert add(owner_client, receiver, path=f"/{n}").status_code == 302
    response = add(owner_client, receiver, path="/3")
    assert response.status_code == 400 and "the most allowed is 2" in response.content.decode()
    assert WebhookEndpoint.objects.count() == 2
    assert "Delete one to add another." in owner_client.get(LIST).content.decode()


def test_send_test_event_and_read_the_delivery_log(owner, owner_client, receiver, endpoint_for):
    endpoint, secret = endpoint_for(owner)
    detail = reverse("webhooks:detail", args=[endpoint.pk])
    assert "Nothing sent yet" in owner_client.get(detail).content.decode()
    receiver.behaviour.body = b'{"received": "thanks"}'
    response = owner_client.post(reverse("webhooks:test", args=[endpoint.pk]))
    assert response.status_code == 302 and response["Location"] == detail
    [got] = receiver.received
    assert Webhook(secret).verify(got.body, got.headers)["type"] == "webhook.test"
    body = owner_client.get(detail).content.decode()
    assert "A test event was queued" in body
    assert "webhook.test" in body and got.id in body and " ms</td>" in body
    assert 'status-active">200<' in body and "thanks" in body  # status, response excerpt
    # A failing receiver: the log says what answered, and that a retry is coming.
    receiver.behaviour.status, receiver.behaviour.body = 503, b"<h1>down for maintenance</h1>"
    response = owner_client.post(
        reverse("webhooks:test", args=[endpoint.pk]), HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="endpoint-area"')
    assert 'status-failed">503<' in body and "next try" in body
    assert "&lt;h1&gt;down for maintenance&lt;/h1&gt;" in body  # text, never markup
    assert "Waiting to be delivered: 1 (in order" in body
    log = owner_client.get(reverse("webhooks:log", args=[endpoint.pk]), HTTP_HX_REQUEST="true")
    assert log.content.decode().lstrip().startswith('<section class="card" id="webhook-log"')


def test_turning_off_and_on(owner, owner_client, receiver, endpoint_for):
    endpoint, _ = endpoint_for(owner)
    enable = reverse("webhooks:enable", args=[endpoint.pk])
    receiver.stop()
    keys.api_key_create(user_id=owner.pk, name="k")  # fails, waits for its retry
    response = owner_client.post(enable, {"enabled": "0"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "The endpoint is off." in body and "Turn on" in body
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_reason == "user"
    assert WebhookDelivery.objects.get().status == "cancelled"
    response = owner_client.post(reverse("webhooks:test", args=[endpoint.pk]), follow=True)
    assert "Turn the endpoint on first" in response.content.decode()
    response = owner_client.post(enable, {"enabled": "1"})
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.disabled_reason == ""


def test_an_endpoint_turned_off_for_failing_says_so(owner, owner_client, receiver, endpoint_for):
    endpoint, _ = endpoint_for(owner)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False, disabled_reason="failing")
    body = owner_client.get(reverse("webhooks:detail", args=[endpoint.pk])).content.decode()
    assert 'data-testid="disabled-notice"' in body and "kept failing for a day" in body


def test_rolling_the_secret_shows_the_new_one_once(owner, owner_client, receiver, endpoint_for):
    endpoint, old = endpoint_for(owner)
    roll = reverse("webhooks:roll_secret", args=[endpoint.pk])
    response = owner_client.post(roll, HTTP_HX_REQUEST="true")
    new = SECRET.search(response.content.decode()).group(1)
    assert new != old and response["Cache-Control"] == "no-store"
    endpoint.refresh_from_db()
    assert services.endpoint_secrets(endpoint) == [new, old]  # both sign for a day
    response = owner_client.post(roll)  # without htmx: shown after the redirect
    assert response.status_code == 302
    assert SECRET.search(owner_client.get(response["Location"]).content.decode())


def test_deleting_asks_first(owner, owner_client, receiver, endpoint_for):
    endpoint, _ = endpoint_for(owner)
    delete = reverse("webhooks:delete", args=[endpoint.pk])
    assert "Delete this endpoint?" in owner_client.get(delete).content.decode()
    response = owner_client.post(delete)
    assert response.status_code == 302 and response["Location"] == LIST
    assert not WebhookEndpoint.objects.exists()


def test_an_outsider_can_neither_see_nor_touch_my_endpoint(owner, outsider, receiver, endpoint_for):
    endpoint, secret = endpoint_for(owner)
    client = Client()
    client.force_login(outsider)
    assert receiver.url() not in client.get(LIST).content.decode()
    for name in ("detail", "log", "delete"):
        assert client.get(reverse(f"webhooks:{name}", args=[endpoint.pk])).status_code == 404
    for name in ("enable", "test", "roll_secret", "delete"):
        response = client.post(reverse(f"webhooks:{name}", args=[endpoint.pk]), {"enabled": "0"})
        assert response.status_code == 404, name
    endpoint.refresh_from_db()
    assert endpoint.enabled and services.endpoint_secrets(endpoint) == [secret]
    assert receiver.received == []


def test_the_list_costs_the_same_queries_for_many_endpoints(
    owner, owner_client, receiver, endpoint_for, django_assert_max_num_queries
):
    endpoint, _ = endpoint_for(owner, path="/0")
    services.webhook_test_send(user_id=owner.pk, endpoint_id=endpoint.pk)
    owner_client.get(LIST)
    with django_assert_max_num_queries(8) as few:
        owner_client.get(LIST)
    for n in range(1, 5):
        extra, _ = endpoint_for(owner, path=f"/{n}")
        services.webhook_test_send(user_id=owner.pk, endpoint_id=extra.pk)
    with django_assert_max_num_queries(len(few.captured_queries)):
        owner_client.get(LIST)
    detail = reverse("webhooks:detail", args=[endpoint.pk])
    for _ in range(5):
        services.webhook_test_send(user_id=owner.pk, endpoint_id=endpoint.pk)
    with django_assert_max_num_queries(len(few.captured_queries) + 2):
        owner_client.get(detail)


def test_the_page_speaks_chinese(owner_client, receiver, endpoint_for, owner):
    endpoint_for(owner)
    owner_client.cookies["django_language"] = "zh-hans"
    body = owner_client.get(LIST).content.decode()
    assert "添加端点" in body and "你的端点" in body
