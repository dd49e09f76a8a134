"""Production settings: refuse to start without a real secret; pass Django's deploy checks."""

import os
import subprocess
import sys

GOOD_SECRET = "k9$Qz!r2vXw8LmN4pT7yB1cF6hJ0sD3gA5eR8uI2oP9lK7jH4gF1dS6aZ3xC0vB5nM"


def run_manage(*args, **env):
    base = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "DATABASE_URL",
            "REDIS_URL",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings.prod", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = run_manage("check", ALLOWED_HOSTS="opencodex.example")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_a_placeholder_secret_key():
    result = run_manage(
        "check", SECRET_KEY="django-insecure-" + "x" * 60, ALLOWED_HOSTS="opencodex.example"
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_its_database_and_redis():
    for missing in ("DATABASE_URL", "REDIS_URL"):
        env = {
            "SECRET_KEY": GOOD_SECRET,
            "ALLOWED_HOSTS": "opencodex.example",
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
            "REDIS_URL": "redis://127.0.0.1:6379/14",
        }
        del env[missing]
        result = run_manage("check", **env)
        assert result.returncode != 0 and f"{missing} must be set" in result.stderr


def test_servers_and_workers_default_to_production_settings():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for entry in ("config/asgi.py", "config/wsgi.py", "config/celery.py"):
        text = (root / entry).read_text()
        assert '"DJANGO_SETTINGS_MODULE", "config.settings.prod"' in text, entry
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "SECRET_KEY")}
    result = subprocess.run(
        [sys.executable, "-c", "import config.wsgi"],
        env={**env, "ALLOWED_HOSTS": "x"},
        capture_output=True,
        text=True,
        check=False,
        cwd=root,
    )
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY=GOOD_SECRET,
        ALLOWED_HOSTS="opencodex.example",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/test",
        REDIS_URL="redis://127.0.0.1:6379/14",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_collectstatic_with_the_production_storage(tmp_path):
    """make release runs collectstatic with the manifest storage: every referenced file (source
    maps included) must exist."""
    result = run_manage(
        "collectstatic",
        "--noinput",
        SECRET_KEY=GOOD_SECRET,
        ALLOWED_HOSTS="opencodex.example",
        OPENCODEX_VAR_DIR=str(tmp_path),
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/test",
        REDIS_URL="redis://127.0.0.1:6379/14",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "staticfiles" / "staticfiles.json").exists()


def test_production_logs_are_json_lines():
    code = (
        "import logging, django; django.setup(); "
        "logging.getLogger('opencodex.test').warning('hello %s', 'there')"
    )
    env = {
        k: v for k, v in os.environ.items() if k not in {"LOG_FORMAT", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.prod",
        SECRET_KEY=GOOD_SECRET,
        ALLOWED_HOSTS="opencodex.example",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/test",
        REDIS_URL="redis://127.0.0.1:6379/14",
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    import json

    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["message"] == "hello there" and line["logger"] == "opencodex.test"
