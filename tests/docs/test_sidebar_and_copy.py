"""The docs sidebar in groups, and the Copy buttons in the reader's language (issue #24, lows)."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_sidebar_is_grouped(client):
    page = client.get(reverse("docs:page", args=["quickstart"])).content.decode()
    headings = ["Get started", "API reference", "Guides", "Coding tools"]
    positions = [page.index(f'<span class="docs-nav-heading">{h}</span>') for h in headings]
    assert positions == sorted(positions)
    tools = page.split("Coding tools</span>")[1].split("</ul>")[0]
    assert "Claude Code" in tools and "Codex CLI" in tools


def test_copy_buttons_speak_the_pages_language(client):
    page = client.get(
        reverse("docs:page", args=["quickstart"]), HTTP_ACCEPT_LANGUAGE="zh-CN"
    ).content.decode()
    assert 'class="copy-code"' in page
    assert ">复制</button>" in page and 'data-copied-label="已复制！"' in page
    assert ">Copy</button>" not in page and "复制代码" in page
    english = client.get(reverse("docs:page", args=["quickstart"]), HTTP_ACCEPT_LANGUAGE="en")
    assert ">Copy</button>" in english.content.decode()
