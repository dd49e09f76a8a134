import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_landing_page_says_what_opencodex_is(client):
    response = client.get("/")
    body = response.content.decode()
    assert response.status_code == 200
    for text in ("DeepSeek", "Qwen", "Claude", "Gemini", "GPT-4", "OpenAI-compatible"):
        assert text in body
    assert "Get 500 free Credits on signup. No credit card required." in body
    assert f'href="{reverse("account_signup")}"' in body and "Sign Up Free" in body


def test_landing_redirects_a_signed_in_user_to_the_dashboard(owner_client):
    response = owner_client.get("/")
    assert response.status_code == 302 and response.url == reverse("dashboard")


def test_vendored_htmx_is_served_locally(client):
    body = client.get("/").content.decode()
    assert "/static/vendor/htmx-2.0.8/htmx.min.js" in body
    assert "//unpkg.com" not in body and "cdn" not in body.lower()
    response = client.get("/static/vendor/htmx-2.0.8/htmx.min.js")
    assert response.status_code == 200


def test_allauth_pages_use_the_site_layout(client):
    for name in ("account_signup", "account_login", "account_reset_password"):
        body = client.get(reverse(name)).content.decode()
        assert "/static/css/site.css" in body, name
        assert 'class="card"' in body, name


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_checks_every_dependency_and_shows_why_only_to_the_operator(client, db, settings):
    from django.core.management import call_command

    settings.READINESS_CACHE_SECONDS = 0
    settings.METRICS_TOKEN = "ops-token"
    body = client.get("/readyz")
    assert body.status_code == 503 and body.json()["checks"]["catalog"] == "failing"
    assert "sync_catalog" not in body.content.decode()  # no exception text for the public
    detailed = client.get("/readyz", HTTP_AUTHORIZATION="Bearer ops-token").json()
    assert detailed["checks"]["catalog"].startswith("failing: LookupError") and (
        "sync_catalog" in detailed["checks"]["catalog"]
    )
    call_command("sync_catalog", stdout=open("/dev/null", "w"))  # noqa: SIM115
    body = client.get("/readyz").json()
    assert body == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "ok", "broker": "ok", "catalog": "ok"},
    }


def test_readyz_keeps_its_result_for_a_moment_and_shows_no_internals(client, db, settings):
    """A failing dependency's error (host, port, user) is not public; and polling /readyz does
    not probe every dependency on every call."""
    from django.db import connection

    settings.READINESS_CACHE_SECONDS = 60
    settings.REDIS_URL = "redis://internal-cache.example:6390/0"
    from apps.core import views
    from apps.keys import cache as keys_cache

    views._ready.update(at=0.0, checks={})
    saved = keys_cache._redis
    keys_cache._redis = None
    try:
        first = client.get("/readyz")
        assert first.status_code == 503 and first.json()["checks"]["redis"] == "failing"
        assert "internal-cache" not in first.content.decode()
        with connection.execute_wrapper(
            lambda *a: (_ for _ in ()).throw(AssertionError("probed again"))
        ):
            again = client.get("/readyz")  # from the kept result: no query, no connection
        assert again.json() == first.json()
    finally:
        keys_cache._redis = saved
        views._ready.update(at=0.0, checks={})


def test_metrics_need_the_token(client, db, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    settings.METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope").status_code == 401
    page = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert page.status_code == 200 and b"ocx_holds_open" in page.content


def test_every_page_has_a_content_security_policy_without_inline_code(client, db):
    for url in ("/", "/accounts/signup/", "/docs/overview/"):
        response = client.get(url)
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        body = response.content.decode()
        assert " onchange=" not in body and " onclick=" not in body and 'style="' not in body
