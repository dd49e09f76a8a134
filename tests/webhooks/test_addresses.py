"""Where webhooks may go: public http(s) addresses only, every resolved address checked, the
checked address connected to (no second lookup), no redirects, short timeouts, answers capped.
No test reaches the network: literal addresses, /etc/hosts names and a resolver passed in."""

import socket

import pytest

from apps.webhooks import addresses, services, transport
from apps.webhooks.addresses import UnsafeURL, url_target
from apps.webhooks.models import WebhookAttempt
from tests.config.test_settings import GOOD_SECRET, run_manage

REFUSED = [
    "http://127.0.0.1/hooks",
    "http://169.254.169.254/latest/meta-data/",  # the cloud metadata service
    "http://localhost:8000/",  # a name that resolves to loopback
    "http://2130706433/",  # 127.0.0.1 written as a number
    "http://0.0.0.0/",
    "https://10.1.2.3/",
    "https://172.16.0.1/",
    "https://192.168.1.1/",
    "https://100.64.0.1/",  # shared address space (carrier-grade NAT)
    "https://198.18.0.1/",  # benchmarking
    "https://224.0.0.1/",  # multicast
    "https://240.0.0.1/",  # reserved
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4 in IPv6
    "http://[::ffff:169.254.169.254]/",
    "http://[fe80::1]/",
    "http://[fd00::1]/",
    "http://[ff02::1]/",
    "http://[2002:7f00:1::]/",  # 6to4 around 127.0.0.1
]


@pytest.mark.parametrize("url", REFUSED)
def test_private_and_reserved_addresses_are_refused(url, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    with pytest.raises(UnsafeURL, match="public internet addresses"):
        url_target(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/", "must start with https://"),
        ("file:///etc/passwd", "must start with https://"),
        ("javascript:alert(1)", "must start with https://"),
        ("https://user:secret@93.184.215.14/", "user name or password"),
        ("https:///nohost", "needs a host name"),
        ("https://93.184.215.14/a b", "spaces"),
        ("https://93.184.215.14:99999/", "not a valid URL"),
        ("", "Enter the URL"),
        ("https://93.184.215.14/" + "a" * 500, "at most 500"),
    ],
)
def test_only_http_urls_with_a_host_and_no_credentials(url, message):
    with pytest.raises(UnsafeURL, match=message):
        url_target(url)


def test_a_name_that_does_not_resolve_is_refused():
    def nowhere(host, port, type=0):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(UnsafeURL, match="could not be resolved"):
        url_target("https://no-such-host.invalid/", resolver=nowhere)


def test_public_addresses_pass():
    target = url_target("https://93.184.215.14/hooks?x=1")
    assert (target.scheme, target.port, target.path) == ("https", 443, "/hooks?x=1")
    assert target.addresses == ("93.184.215.14",)
    assert url_target("http://[2606:4700:4700::1111]:8080/").addresses == ("2606:4700:4700::1111",)


def resolver_of(*ips):
    def resolve(host, port, type=0):
        family = socket.AF_INET6 if ":" in ips[0] else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in ips]

    return resolve


def test_every_address_of_a_name_is_checked():
    """A name with one public and one private address is refused (a client might use either)."""
    with pytest.raises(UnsafeURL, match=r"10\.0\.0\.7"):
        url_target("https://hooks.example.com/", resolver=resolver_of("93.184.215.14", "10.0.0.7"))
    assert url_target(
        "https://hooks.example.com/", resolver=resolver_of("93.184.215.14", "93.184.215.15")
    ).addresses == ("93.184.215.14", "93.184.215.15")


def test_development_may_allow_private_addresses(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    assert url_target("http://127.0.0.1:9/").addresses == ("127.0.0.1",)


def test_production_settings_refuse_loopback_and_the_metadata_service():
    """With config.settings.prod, even when the environment asks to allow private addresses."""
    check = (
        "from django.conf import settings\n"
        "from apps.webhooks.addresses import url_target, UnsafeURL\n"
        "print('allowed' if settings.WEBHOOK_ALLOW_PRIVATE_URLS else 'not allowed')\n"
        "for url in ('http://127.0.0.1:8000/hooks', 'http://169.254.169.254/latest/'):\n"
        "    try:\n"
        "        url_target(url)\n"
        "    except UnsafeURL as exc:\n"
        "        print('refused', url)\n"
    )
    result = run_manage(
        "shell",
        "-c",
        check,
        SECRET_KEY=GOOD_SECRET,
        ALLOWED_HOSTS="opencodex.example",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/test",
        REDIS_URL="redis://127.0.0.1:6379/14",
        WEBHOOK_ALLOW_PRIVATE_URLS="1",
    )
    assert result.returncode == 0, result.stderr
    printed = result.stdout.splitlines()
    assert "allowed" not in printed and "not allowed" in printed
    assert "refused http://127.0.0.1:8000/hooks" in printed
    assert "refused http://169.254.169.254/latest/" in printed


@pytest.mark.django_db(transaction=True)
def test_an_address_that_became_private_is_refused_at_delivery(
    owner, receiver, endpoint_for, settings
):
    endpoint, _ = endpoint_for(owner)
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False  # as if its name now resolved to loopback
    services.webhook_test_send(user_id=owner.pk, endpoint_id=endpoint.pk)
    assert receiver.received == []
    [attempt] = WebhookAttempt.objects.all()
    assert not attempt.ok and "public internet addresses" in attempt.error
    assert attempt.status_code is None


# --- the request itself -------------------------------------------------------------------------


def post(url, **kwargs):
    kwargs.setdefault("timeout", 5)
    kwargs.setdefault("max_bytes", 4096)
    return transport.post(url, body=b"{}", headers={"webhook-id": "msg_t"}, **kwargs)


def test_the_checked_address_is_connected_to_and_the_name_kept(receiver):
    """The sender connects to the address it checked (a second lookup could answer another,
    e.g. a private one): the receiver sees the name in Host, the connection went to 127.0.0.1."""
    url = receiver.url("/pinned", host="hooks.example.test")
    outcome = post(url, resolver=resolver_of("127.0.0.1"))
    assert outcome.ok, outcome
    [got] = receiver.received
    assert got.headers["host"] == f"hooks.example.test:{receiver.port}"


def test_redirects_are_not_followed(receiver):
    receiver.behaviour.status = 307
    receiver.behaviour.headers = {"Location": receiver.url("/elsewhere")}
    outcome = post(receiver.url("/start"))
    assert not outcome.ok and outcome.status == 307
    assert outcome.error == "Redirects are not followed."
    assert [r.path for r in receiver.received] == ["/start"]


def test_at_most_max_bytes_of_the_answer_are_read(receiver):
    receiver.behaviour.body = b"x" * 1_000_000
    outcome = post(receiver.url())
    assert outcome.ok and outcome.excerpt == "x" * 4096


def test_a_slow_receiver_times_out(receiver):
    receiver.behaviour.delay = 2
    outcome = post(receiver.url(), timeout=0.3)
    assert not outcome.ok and outcome.error == "Timed out."
    assert not receiver.answered.is_set()


def test_the_whole_exchange_has_one_deadline_however_slowly_bytes_trickle(receiver):
    """Each byte within the socket timeout, the whole answer far beyond it: cut at the deadline."""
    receiver.behaviour.body = b"y" * 40
    receiver.behaviour.trickle = 0.1  # 4 s in all, 0.1 s between bytes
    outcome = post(receiver.url(), timeout=0.5)
    assert not outcome.ok and outcome.error == "Timed out."
    assert not receiver.answered.is_set()  # it was still trickling when we gave up


def test_a_closed_port_is_a_failed_attempt_not_an_exception(receiver):
    receiver.stop()
    outcome = post(receiver.url())
    assert not outcome.ok and outcome.error == "Connection refused."


def test_addresses_module_names_the_ranges_it_refuses():
    assert not addresses.address_is_public("127.0.0.1")
    assert addresses.address_is_public("8.8.8.8")
    assert addresses.address_is_public("::ffff:8.8.8.8")
    assert not addresses.address_is_public("fe80::1%eth0")
