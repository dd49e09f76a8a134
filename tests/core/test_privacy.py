"""On make run, what the embedded default keeps on disk (the SQLite database with e-mails and
kept prompts, the mail folder) is readable by its user alone, and no log line carries the key
of an e-mail confirmation or password-reset link."""

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

from apps.core.logs import SecretPathFilter

ROOT = Path(__file__).resolve().parent.parent.parent


def test_the_embedded_defaults_var_folder_and_new_files_are_private(tmp_path):
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    script = (
        "import django, sqlite3; django.setup();"
        "from django.conf import settings;"
        "sqlite3.connect(settings.SQLITE_PATH).execute('create table t (x)');"
        "(settings.VAR_DIR / 'mail' / 'm.log').write_text('hi')"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.dev",
        "OPENCODEX_VAR_DIR": str(var),
    }
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True)
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    for path in (var / "opencodex.sqlite3", var / "mail" / "m.log"):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_confirmation_and_reset_keys_never_reach_a_log_line():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/accounts/confirm-email/MQ:1vX2ab:secretkey123/", "1.1", 200),
        None,
    )
    assert SecretPathFilter().filter(record)
    line = record.getMessage()
    assert "secretkey123" not in line and "/accounts/confirm-email/[redacted]/" in line
    warning = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "Not Found: /accounts/password/reset/key/1-abc-set-password/",
        None,
        None,
    )
    SecretPathFilter().filter(warning)
    assert "1-abc" not in warning.getMessage()


def test_production_logging_leaves_uvicorns_access_log_off():
    """make serve runs uvicorn with --no-access-log; a handler configured for uvicorn.access
    would switch it back on (uvicorn logs when the logger has handlers), a line per request."""
    from config.settings import base

    assert "uvicorn.access" not in base.LOGGING["loggers"]
