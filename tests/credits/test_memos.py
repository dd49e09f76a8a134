"""Ledger memos in the reader's language (issue #24, lows)."""

from django.utils import translation

from apps.credits.memos import memo_display


def test_memos_are_translated_with_their_amounts():
    with translation.override("zh-hans"):
        assert memo_display("Welcome credits") == "欢迎积分"
        assert memo_display("Top-up $5.00") == "充值 $5.00"
        assert memo_display("Refund of ¥36.00") == "退款 ¥36.00"
        assert memo_display("Auto top-up $10.00") == "自动充值 $10.00"
        assert memo_display("Redemption code …AB12, Launch") == "兑换码 …AB12，Launch"
        assert memo_display("A staff member's own reason") == "A staff member's own reason"
    with translation.override("en"):
        assert memo_display("Top-up $5.00") == "Top-up $5.00"
