"""Site-wide pieces: SITE_URL follows the port, error pages, favicon, allauth's pages and
e-mails in the site's style."""

import re
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from config.settings.base import site_url_from_env

ROOT = Path(settings.BASE_DIR)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"PORT": "8100"}, "http://127.0.0.1:8100"),
        ({"WEB_PORT": "8200", "PORT": "8100"}, "http://127.0.0.1:8200"),
        ({"SITE_URL": "https://api.example.com/", "PORT": "8100"}, "https://api.example.com"),
        ({"SITE_URL": "", "PORT": "9000"}, "http://127.0.0.1:9000"),
    ],
)
def test_site_url_follows_the_port_unless_set(environ, expected):
    assert site_url_from_env(environ) == expected


def make_run(*args, env=None):
    result = subprocess.run(
        ["make", "-n", "-s", "run", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )
    command = result.stdout.replace("\\\n", " ")
    return subprocess.run(  # the recipe's shell expands ${SITE_URL:-...} as make run would
        [
            "bash",
            "-c",
            re.sub(r"exec \S+/honcho -f Procfile start", "env", command.split("\n")[-2]),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    ).stdout


def test_make_run_passes_a_site_url_for_its_port():
    assert "SITE_URL=http://127.0.0.1:8100\n" in make_run("PORT=8100")
    assert "SITE_URL=http://127.0.0.1:8000\n" in make_run()
    told = make_run("PORT=8100", env={"SITE_URL": "https://opencodex.example"})
    assert "SITE_URL=https://opencodex.example\n" in told


def test_make_run_serves_the_sites_own_error_pages():
    dev = (ROOT / "config" / "settings" / "dev.py").read_text()
    assert 'os.environ.get("DEBUG", "0")' in dev


def test_unknown_pages_get_the_sites_404(client, db):
    response = client.get("/no-such-page/")
    body = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in body and "/static/css/site.css" in body
    assert 'style="' not in body and "<script>" not in body


def test_the_500_page_renders_without_a_request():
    from django.template.loader import render_to_string

    body = render_to_string("500.html")
    assert "Something went wrong" in body and "/static/css/site.css" in body


def test_favicon_is_linked_and_served(client, db):
    assert '<link rel="icon" href="/static/favicon.svg"' in client.get("/").content.decode()
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response.url == "/static/favicon.svg"
    svg = client.get(response.url)
    assert svg.status_code == 200 and svg["Content-Type"].startswith("image/svg")


def test_login_page_matches_the_site(client, db):
    body = client.get(reverse("account_login")).content.decode()
    # "Remember me" after its box, without a colon; one wording for signing in everywhere.
    checkbox = body.index('type="checkbox"')
    label = body.index(">Remember Me</label>")
    assert checkbox < label
    assert "Remember Me:" not in body and "Log in" not in body and "Sign In" in body


def test_the_only_email_address_cannot_be_removed(owner_client):
    body = owner_client.get(reverse("account_email")).content.decode()
    assert 'name="action_remove"' not in body and 'name="action_primary"' not in body
    assert 'name="action_send"' in body and "btn-danger" not in body
    card = body.split('<div class="card">')[1].split("</main>")[0]
    assert "<li>" not in card  # no stray bullets


def test_two_factor_page_has_no_stray_bullets(owner_client):
    body = owner_client.get(reverse("mfa_index")).content.decode()
    card = body.split('<div class="card">')[1].split("</main>")[0]
    assert "<ul>" not in card and 'class="actions"' in card


def test_signup_email_has_the_sites_name_and_an_html_part(client, db, settings):
    settings.SITE_URL = "http://127.0.0.1:8100"
    client.post(
        reverse("account_signup"),
        {
            "email": "new@example.com",
            "password1": "a-long-and-unusual-passphrase",
            "password2": "a-long-and-unusual-passphrase",
        },
        HTTP_HOST="127.0.0.1:8100",
    )
    (message,) = mail.outbox
    assert message.body.startswith("Hello from OpenCodex!")
    assert "127.0.0.1:8100!" not in message.body and "/accounts/confirm-email/" in message.body
    ((html, kind),) = message.alternatives
    assert kind == "text/html"
    assert "Open<span" in html and "Confirm my email address" in html
    link = re.search(r'href="(http://[^"]+/accounts/confirm-email/[^"]+)"', html).group(1)
    assert link in message.body


def test_every_allauth_email_gets_an_html_part(owner, client):
    client.post(reverse("account_reset_password"), {"email": owner.email})
    (message,) = mail.outbox
    assert "OpenCodex" in message.subject
    ((html, kind),) = message.alternatives
    assert kind == "text/html" and "Choose a new password" in html
