import pytest
from django.test import override_settings
from django.urls import reverse

pytestmark = pytest.mark.django_db


@override_settings(SUPPORT_EMAIL="help@example.org", SITE_OPERATOR="Example Ltd")
def test_support_terms_and_privacy_with_the_support_address(client):
    support = client.get(reverse("support")).content.decode()
    assert 'href="mailto:help@example.org"' in support
    for name in ("terms", "privacy"):
        page = client.get(reverse(name)).content.decode()
        assert "Example Ltd" in page and "help@example.org" in page
        assert "placeholder" in page
    home = client.get(reverse("home")).content.decode()  # the footer, on every page
    for name in ("support", "terms", "privacy"):
        assert f'href="{reverse(name)}"' in home
    assert "help@example.org" in home


def test_an_operator_replaces_the_terms_with_a_file(client, settings, tmp_path):
    (tmp_path / "terms.md").write_text("## Our own terms\n\nAsk {support_email}.", "utf-8")
    settings.LEGAL_DIR = str(tmp_path)
    settings.SUPPORT_EMAIL = "legal@example.org"
    page = client.get(reverse("terms")).content.decode()
    assert "<h2>Our own terms</h2>" in page
    assert "Ask legal@example.org." in page
    assert "placeholder" not in page
    privacy = client.get(reverse("privacy")).content.decode()
    assert "placeholder" in privacy  # no privacy.md there: the built-in one


def test_the_pages_in_chinese(client):
    page = client.get(reverse("terms"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "占位条款" in page


def test_contact_support_links_to_the_support_page(client, settings):
    settings.SUPPORT_EMAIL = "help@example.org"
    from django.template.loader import render_to_string

    html = render_to_string("account/verification_sent.html", {"request": None})
    assert f'href="{reverse("support")}"' in html


def test_the_home_page_names_claude_code_and_codex(client):
    page = client.get(reverse("home")).content.decode()
    assert "Claude Code" in page and "Codex CLI" in page
    assert reverse("docs:page", args=["claude-code"]) in page
    assert reverse("docs:page", args=["codex"]) in page


def test_the_docs_contact_support_links_go_to_the_support_page(client):
    for language in ("en", "zh-CN", "zh-TW"):
        for slug in ("errors", "best-practices", "chat-completions"):
            page = client.get(
                reverse("docs:page", args=[slug]), HTTP_ACCEPT_LANGUAGE=language
            ).content.decode()
            assert f'href="{reverse("support")}"' in page, (language, slug)
