"""The embedded database (`make run`'s SQLite) refuses to change or delete an audit event too,
and its retention path deletes only old events and puts the trigger back. A fresh database in a
process of its own (the suite's database is PostgreSQL)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, django
from datetime import timedelta
django.setup()
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from apps.accounts.models import User
from apps.audit.models import AuditEvent
from apps.audit.retention import audit_prune

assert connection.vendor == "sqlite", connection.vendor
user = User.objects.create_user(email="sqlite@example.com")
made = []
for days in (400, 91, 10, 0):
    event = AuditEvent(account=user, action="settings.changed",
                       created_at=timezone.now() - timedelta(days=days))
    event.save(force_insert=True)
    made.append(event.pk)
refused = []
for sql in ("UPDATE audit_auditevent SET action = 'x' WHERE id = %s",
            "DELETE FROM audit_auditevent WHERE id = %s"):
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [made[0]])
    except IntegrityError as exc:
        refused.append(str(exc))
settings.AUDIT_RETENTION_DAYS = 90
pruned = audit_prune(batch=1)
left = sorted(AuditEvent.objects.values_list("pk", flat=True))
try:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [left[0]])
    after = "deleted"
except IntegrityError:
    after = "refused"
print(json.dumps({"refused": refused, "pruned": pruned, "left": left, "made": made,
                  "after": after}))
"""


def test_sqlite_refuses_changes_and_prunes_by_its_one_path(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")
    }
    env |= {"DJANGO_SETTINGS_MODULE": "config.settings.dev", "OPENCODEX_VAR_DIR": str(tmp_path)}
    manage = [sys.executable, "manage.py", "migrate", "--noinput"]
    subprocess.run(manage, cwd=ROOT, env=env, check=True, capture_output=True)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, check=True, capture_output=True
    )
    result = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert len(result["refused"]) == 2
    assert all("append-only" in message for message in result["refused"])
    assert result["pruned"] == 2
    assert result["left"] == result["made"][2:]
    assert result["after"] == "refused"
