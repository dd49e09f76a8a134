"""Fill the zh_Hans catalogue from locale/zh_hans_translations.py (with --fill) and compile every
.po under locale/ into its .mo, in pure Python (polib): no gettext needed to build."""

import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "locale"))


def fill() -> None:
    from zh_hans_translations import ZH_HANS

    path = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    catalogue = polib.pofile(str(path))
    missing = []
    for entry in catalogue:
        # A message with a context (pgettext, {% translate ... context ... %}) is looked up as
        # "context\x04msgid" first, then as its bare msgid.
        key = f"{entry.msgctxt}\x04{entry.msgid}" if entry.msgctxt else entry.msgid
        if key in ZH_HANS or entry.msgid in ZH_HANS:
            entry.msgstr = ZH_HANS.get(key, ZH_HANS.get(entry.msgid))
            if "fuzzy" in entry.flags:
                entry.flags.remove("fuzzy")
        else:
            if "fuzzy" in entry.flags:  # a guess by makemessages: not a translation
                entry.flags.remove("fuzzy")
                entry.msgstr = ""
            if not entry.msgstr:
                missing.append(key)
    catalogue.metadata["Language"] = "zh_Hans"
    catalogue.metadata["Content-Type"] = "text/plain; charset=UTF-8"
    catalogue.save(str(path))
    if missing:
        print("untranslated:", *missing, sep="\n  ")


def compile_all() -> None:
    for po in (ROOT / "locale").glob("*/LC_MESSAGES/*.po"):
        polib.pofile(str(po)).save_as_mofile(str(po.with_suffix(".mo")))
        print(f"compiled {po.relative_to(ROOT)}")


if __name__ == "__main__":
    if "--fill" in sys.argv:
        fill()
    compile_all()
