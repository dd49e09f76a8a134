"""Traditional Chinese (zh-hant) from the Simplified Chinese sources, with OpenCC (a development
tool only: the site never imports it; `pip install -e .[dev]` has it).

    python scripts/zh_hant.py            # add to locale/zh_hant_translations.py every zh-hans
                                         # message it lacks (reviewed entries are kept)
    python scripts/zh_hant.py --docs     # rewrite apps/docs/content/zh-hant/ from zh-hans
    python scripts/zh_hant.py --all      # both, replacing every translation (a fresh start)

Then `python scripts/messages.py --fill` writes both catalogues and compiles them.

OpenCC's ``s2twp`` (Simplified → Traditional, Taiwan standard, with Taiwanese phrasing) rather
than ``s2hk``: s2hk converts characters only and keeps mainland vocabulary (默認, 軟件, 數據,
信息), which readers in Taiwan find foreign, while Hong Kong readers read Taiwan's software
vocabulary (預設, 軟體, 資料, 訊息) without trouble. The product's own terms are then made
consistent by TERMS below. Code (fenced blocks, `inline code`) and placeholders are left as they
are, so samples stay identical to the English pages.
"""

import pprint
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "locale"))

# After s2twp: the product's vocabulary, applied in order (longest first where they overlap).
TERMS = [
    ("積分", "點數"),  # credits: 點數 is what Taiwanese services call prepaid credits
    ("運營", "營運"),  # to operate (a business)
    ("賬", "帳"),  # 帳單, 帳戶, 帳號: the Taiwan standard form
    ("充值", "儲值"),  # top up
    ("郵箱地址", "電子郵件地址"),
    ("郵箱", "電子郵件"),
    ("流式輸出", "串流輸出"),  # streaming
    ("流式", "串流"),
    ("密鑰", "金鑰"),  # key (s2twp already says 金鑰 for 密钥; kept for other spellings)
    ("令牌", "權杖"),  # an auth token; LLM tokens stay "token" as in zh-hans
    ("控制檯", "控制台"),  # dashboard
    ("示例", "範例"),  # examples
    ("最佳實踐", "最佳做法"),
    ("頻寬限期", "帶寬限期"),  # 带 + 宽限期 (with a grace period), not bandwidth
    ("管理後臺", "管理後台"),
    ("型別", "類型"),
    ("退出登入", "登出"),
    ("重置", "重設"),
    ("響應", "回應"),
    ("當前", "目前"),
    ("自定義", "自訂"),
    ("訪問", "存取"),
    ("配置", "設定"),
    ("運維", "維運"),
    ("幣種", "幣別"),
    ("套餐", "方案"),
    ("閾值", "門檻"),
    ("銀行卡", "卡片"),
    ("智慧體", "AI 代理"),
    ("協議", "協定"),  # protocol
    ("請求頭", "請求標頭"),  # HTTP headers
    ("回應頭", "回應標頭"),
    ("獲取", "取得"),
    ("二維碼", "QR Code"),
    ("公網地址", "公開網路位址"),  # network addresses (an e-mail address stays 地址)
    ("內網地址", "內網位址"),
    ("保留地址", "保留位址"),
    ("主機地址", "主機位址"),
    ("的地址是", "的位址是"),
    ("簡體中文", "简体中文"),  # a language's own name is written in that language
]

FENCE = re.compile(
    r"(^[ \t]*```.*?^[ \t]*```[ \t]*$"  # a fenced block
    r"|`[^`\n]+`"  # inline code
    r"|%\([a-z_]+\)[sd]|\{\{ ?[A-Z_]+ ?\}\})",  # placeholders
    re.M | re.S,
)

_converter = None


def convert(text: str) -> str:
    """Simplified → Traditional (Taiwan phrasing, product terms), code and placeholders kept."""
    global _converter
    if _converter is None:
        from opencc import OpenCC

        _converter = OpenCC("s2twp")
    parts = FENCE.split(text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:  # a code block, an inline code span or a placeholder
            out.append(part)
            continue
        part = _converter.convert(part)
        for simplified, traditional in TERMS:
            part = part.replace(simplified, traditional)
        part = re.sub(r"(?<!合)併", "並", part)  # s2twp's 並 → 併 outside 合併
        out.append(part)
    return "".join(out)


def translations(*, replace: bool = False) -> int:
    from zh_hans_translations import ZH_HANS

    path = ROOT / "locale" / "zh_hant_translations.py"
    existing = {}
    if path.exists() and not replace:
        from zh_hant_translations import ZH_HANT

        existing = dict(ZH_HANT)
    added = {k: convert(v) for k, v in ZH_HANS.items() if k not in existing}
    # Language names are each written in their own script.
    added.update({k: k for k in ("English", "简体中文", "繁體中文") if k in added})
    merged = {**existing, **added}
    body = pprint.pformat(merged, width=100, sort_dicts=False)
    path.write_text(
        '"""Traditional Chinese (zh-hant, Taiwan phrasing) for the site\'s own strings: generated '
        "from\nzh_hans_translations.py by scripts/zh_hant.py (OpenCC s2twp and the product's "
        "terms), then\nreviewed; `scripts/messages.py --fill` writes them into the .po. Keep "
        'placeholders like %(name)s."""\n\n'
        f"ZH_HANT = {body}\n",
        encoding="utf-8",
    )
    ruff = [sys.executable, "-m", "ruff", "format", "--quiet", str(path)]
    subprocess.run(ruff, check=False)  # noqa: S603 (our own interpreter, our own file)
    return len(added)


def docs() -> int:
    source = ROOT / "apps" / "docs" / "content" / "zh-hans"
    target = ROOT / "apps" / "docs" / "content" / "zh-hant"
    target.mkdir(exist_ok=True)
    n = 0
    for page in sorted(source.glob("*.md")):
        (target / page.name).write_text(convert(page.read_text(encoding="utf-8")), "utf-8")
        n += 1
    return n


if __name__ == "__main__":
    if "--docs" in sys.argv or "--all" in sys.argv:
        print(f"converted {docs()} docs pages")
    if "--docs" not in sys.argv or "--all" in sys.argv:
        print(f"added {translations(replace='--all' in sys.argv)} translations")
