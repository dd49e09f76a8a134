"""The dependency lock: `make lint` refuses a pyproject.toml the lock was not made from."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def lock(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("lock", ROOT / "scripts" / "lock.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in ("pyproject.toml", "requirements.lock"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    monkeypatch.setattr(module, "PYPROJECT", tmp_path / "pyproject.toml")
    monkeypatch.setattr(module, "LOCK", tmp_path / "requirements.lock")
    return module, tmp_path


def test_the_committed_lock_matches_and_pins_every_package_with_hashes(lock):
    module, _ = lock
    assert module.check() == 0
    text = (ROOT / "requirements.lock").read_text()
    versions = module.locked_versions(text)
    # The transitive dependencies of the SDKs are locked too (httpx2 moved once and broke CI).
    assert {"httpx2", "pydantic", "anyio", "pip", "setuptools"} <= set(versions)
    entries = [block for block in text.split("\n") if block and block[0].isalnum()]
    assert len(entries) == len(versions)


def test_a_changed_pin_or_a_new_requirement_fails_the_check(lock, capsys):
    module, folder = lock
    pyproject = folder / "pyproject.toml"
    original = pyproject.read_text()
    pyproject.write_text(original.replace('"orjson==3.13.0"', '"orjson==3.12.0"'))
    assert module.check() == 1
    assert "orjson: pyproject.toml pins 3.12.0, the lock has 3.13.0" in capsys.readouterr().out
    pyproject.write_text(original.replace('"honcho==2.0.0",', '"honcho==2.0.0",\n    "rich",'))
    assert module.check() == 1
    assert "make lock" in capsys.readouterr().out


def test_an_unhashed_lock_fails_the_check(lock):
    module, folder = lock
    text = (folder / "requirements.lock").read_text()
    unhashed = "\n".join(line for line in text.splitlines() if "--hash" not in line)
    (folder / "requirements.lock").write_text(unhashed.replace(" \\", ""))
    assert module.check() == 1
