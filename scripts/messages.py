"""Fill the zh_Hans and zh_Hant catalogues from locale/zh_hans_translations.py and
locale/zh_hant_translations.py (with --fill) and compile every .po under locale/ into its .mo, in
pure Python (polib): no gettext needed to build. zh_Hant's messages are zh_Hans's (makemessages
writes both; a missing zh_Hant catalogue is made from zh_Hans's)."""

import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "locale"))


CATALOGUES = {
    "zh_Hans": ("zh_hans_translations", "ZH_HANS"),
    "zh_Hant": ("zh_hant_translations", "ZH_HANT"),
}


def fill() -> None:
    import importlib

    for language, (module, name) in CATALOGUES.items():
        fill_one(language, getattr(importlib.import_module(module), name))


def fill_one(language: str, translations: dict[str, str]) -> None:
    path = ROOT / "locale" / language / "LC_MESSAGES" / "django.po"
    if not path.exists():
        template = polib.pofile(str(ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"))
        for entry in template:
            entry.msgstr = ""
        path.parent.mkdir(parents=True, exist_ok=True)
        template.save(str(path))
    catalogue = polib.pofile(str(path))
    missing = []
    for entry in catalogue:
        # A message with a context (pgettext, {% translate ... context ... %}) is looked up as
        # "context\x04msgid" first, then as its bare msgid.
        key = f"{entry.msgctxt}\x04{entry.msgid}" if entry.msgctxt else entry.msgid
        if key in translations or entry.msgid in translations:
            entry.msgstr = translations.get(key, translations.get(entry.msgid))
            if "fuzzy" in entry.flags:
                entry.flags.remove("fuzzy")
        else:
            if "fuzzy" in entry.flags:  # a guess by makemessages: not a translation
                entry.flags.remove("fuzzy")
                entry.msgstr = ""
            if not entry.msgstr:
                missing.append(key)
    catalogue.metadata["Language"] = language
    catalogue.metadata["Content-Type"] = "text/plain; charset=UTF-8"
    catalogue.save(str(path))
    if missing:
        print(f"untranslated ({language}):", *missing, sep="\n  ")


def compile_all() -> None:
    for po in (ROOT / "locale").glob("*/LC_MESSAGES/*.po"):
        polib.pofile(str(po)).save_as_mofile(str(po.with_suffix(".mo")))
        print(f"compiled {po.relative_to(ROOT)}")


if __name__ == "__main__":
    if "--fill" in sys.argv:
        fill()
    compile_all()
