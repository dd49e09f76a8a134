"""繁體中文 beside English and 简体中文: chosen from Accept-Language and the language switch, and
every e-mail in its recipient's language (the one they signed up in or switched to)."""

import polib
import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from apps.accounts.models import User
from apps.core.money import MICRO
from apps.credits import services as credits

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-and-unusual-passphrase"
HOME_SIGNUP = {"en": "Sign Up Free", "zh-hans": "免费注册", "zh-hant": "免費註冊"}


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("zh-TW", "zh-hant"),
        ("zh-HK", "zh-hant"),
        ("zh-MO", "zh-hant"),
        ("zh-Hant", "zh-hant"),
        ("zh-Hant-TW,zh;q=0.8", "zh-hant"),
        ("zh-tw,en;q=0.5", "zh-hant"),
        ("zh-CN", "zh-hans"),
        ("zh-Hans", "zh-hans"),
        ("zh-SG", "zh-hans"),
        ("zh-CN,zh;q=0.9", "zh-hans"),
        ("en-US,en;q=0.9", "en"),
        ("fr", "en"),
    ],
)
def test_accept_language_chooses_the_chinese_script(client, header, language):
    body = client.get("/", HTTP_ACCEPT_LANGUAGE=header).content.decode()
    assert f'<html lang="{language}">' in body
    assert HOME_SIGNUP[language] in body


def test_the_language_switch_offers_traditional_chinese(client, owner):
    body = client.get("/").content.decode()
    assert '<option value="zh-hant"' in body and "繁體中文" in body
    client.force_login(owner)
    client.post(reverse("set_language"), {"language": "zh-hant", "next": "/dashboard/"})
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert '<html lang="zh-hant">' in dashboard
    assert "控制台" in dashboard and "API 金鑰" in dashboard and "餘額" in dashboard
    settings_page = client.get(reverse("account_settings")).content.decode()
    assert '<option value="zh-hant" selected lang="zh-hant">繁體中文</option>' in settings_page


def test_every_interface_string_is_translated_to_traditional_chinese():
    path = settings.BASE_DIR / "locale" / "zh_Hant" / "LC_MESSAGES" / "django.po"
    catalogue = polib.pofile(str(path))
    assert catalogue.percent_translated() == 100, catalogue.untranslated_entries()
    assert not catalogue.fuzzy_entries()
    hans = polib.pofile(str(path.parent.parent.parent / "zh_Hans" / "LC_MESSAGES" / "django.po"))
    assert {e.msgid for e in catalogue} == {e.msgid for e in hans}
    # Traditional characters, not the Simplified ones.
    assert catalogue.find("API Keys").msgstr == "API 金鑰"
    assert catalogue.find("Billing").msgstr == "帳單"
    assert catalogue.find("Streaming").msgstr == "串流輸出"
    assert catalogue.find("Credits").msgstr == "點數"


def test_the_language_switch_is_remembered_for_a_signed_in_users_emails(client, owner):
    assert owner.language == ""
    client.force_login(owner)
    client.post(reverse("set_language"), {"language": "zh-hant", "next": "/"})
    owner.refresh_from_db()
    assert owner.language == "zh-hant"
    client.post(reverse("set_language"), {"language": "xx", "next": "/"})
    owner.refresh_from_db()
    assert owner.language == "zh-hant"  # not a language of the site: ignored
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    owner.refresh_from_db()
    assert owner.language == "en"


def test_a_user_without_a_language_gets_the_one_they_sign_in_with(client, owner, password):
    assert owner.language == ""
    response = client.post(
        reverse("account_login"),
        {"login": owner.email, "password": password},
        HTTP_ACCEPT_LANGUAGE="zh-HK",
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.language == "zh-hant"
    client.post(reverse("account_logout"))
    client.post(reverse("account_login"), {"login": owner.email, "password": password})
    owner.refresh_from_db()
    assert owner.language == "zh-hant"  # once set, only the language switch changes it


@pytest.mark.parametrize(
    ("header", "language", "words"),
    [
        ("en", "en", "Confirm my email address"),
        ("zh-CN", "zh-hans", "确认我的邮箱地址"),
        ("zh-TW", "zh-hant", "確認我的電子郵件地址"),
    ],
)
def test_the_verification_email_is_in_the_language_of_the_signup(client, header, language, words):
    response = client.post(
        reverse("account_signup"),
        {"email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD},
        HTTP_ACCEPT_LANGUAGE=header,
    )
    assert response.status_code == 302
    assert User.objects.get(email="new@example.com").language == language
    [message] = mail.outbox
    html = message.alternatives[0][0]
    assert words in html and f'<html lang="{language}">' in html


LOW_BALANCE = {
    "en": ("Your credit balance is low", "Top up at"),
    "zh-hans": ("您的积分余额不足", "充值"),
    "zh-hant": ("您的點數餘額不足", "儲值"),
}


@pytest.mark.parametrize("language", LOW_BALANCE)
def test_the_low_balance_email_is_in_the_recipients_language(
    owner, language, django_capture_on_commit_callbacks
):
    from django.utils import translation

    from apps.billing.services import low_balance_notify

    User.objects.filter(pk=owner.pk).update(language=language)
    credits.credits_grant_signup(user_id=owner.pk)
    credits.credits_adjust(user_id=owner.pk, amount=-460 * MICRO, reason="spend", actor_id=None)
    # Whatever language the sending task happens to run in.
    elsewhere = "zh-hans" if language == "en" else "en"
    with translation.override(elsewhere), django_capture_on_commit_callbacks(execute=True):
        assert low_balance_notify() == 1
    [message] = mail.outbox
    subject, body = LOW_BALANCE[language]
    assert subject in message.subject and body in message.body
    assert "40.00 " in message.body and "/billing/" in message.body


BUDGET = {
    "en": ("50% of your monthly budget used", "Change the budget at"),
    "zh-hans": ("已用掉每月预算的 50%", "修改预算"),
    "zh-hant": ("已用掉每月預算的 50%", "修改預算"),
}


@pytest.mark.parametrize("language", BUDGET)
def test_budget_alerts_are_in_the_recipients_language(funded_account, language):
    from apps.billing.services import budget_alerts_send

    account = funded_account(credits=100, user__language=language)
    credits.credits_budget_set(user_id=account.user_id, budget=10 * MICRO)
    credits.credits_hold(account_id=account.pk, amount=5 * MICRO, reference="half")
    credits.credits_settle(reference="half", amount=5 * MICRO)
    assert budget_alerts_send() == 1
    [message] = mail.outbox
    subject, body = BUDGET[language]
    assert subject in message.subject and body in message.body


def test_a_user_without_a_language_gets_the_sites_default(owner):
    from apps.core.i18n import language_of

    assert language_of(owner) == settings.LANGUAGE_CODE == "en"
    owner.language = "zh-TW"  # a variant maps to the site's language
    assert language_of(owner) == "zh-hant"
    owner.language = "ja"
    assert language_of(owner) == "en"


@pytest.mark.parametrize(
    ("language", "subject", "words"),
    [
        ("en", "Your automatic top-up failed", "Auto top-up is now turned off."),
        ("zh-hans", "自动充值失败", "自动充值现已关闭。"),
        ("zh-hant", "自動儲值失敗", "自動儲值現已關閉。"),
    ],
)
def test_a_failed_auto_top_up_email_is_in_the_recipients_language(owner, language, subject, words):
    from apps.billing.auto_topup import _send_failed

    owner.language = language
    _send_failed(
        user=owner, brand="visa", last4="4242", amount="$20.00", error="declined", turned_off=True
    )
    [message] = mail.outbox
    assert subject in message.subject and words in message.body
    assert "4242" in message.body and "$20.00" in message.body and "/billing/" in message.body


@pytest.mark.parametrize(
    ("language", "subject", "words"),
    [
        ("en", "A webhook endpoint was turned off", "failed for 24 hours"),
        ("zh-hans", "Webhook 端点已被关闭", "连续失败 24 小时"),
        ("zh-hant", "Webhook 端點已被關閉", "連續失敗 24 小時"),
    ],
)
def test_the_webhook_turned_off_email_is_in_the_recipients_language(
    owner, language, subject, words
):
    from apps.webhooks.services import _send_turned_off

    owner.language = language
    values = {
        "url": "https://hooks.example/x",
        "hours": 24,
        "attempts": 20,
        "last": "HTTP 500",
        "page": "https://site.example/account/webhooks/1/",
    }
    _send_turned_off(owner, values)
    [message] = mail.outbox
    assert subject in message.subject and words in message.body
    assert "https://hooks.example/x" in message.body and "HTTP 500" in message.body
