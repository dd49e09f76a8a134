"""The database refuses to change or delete an audit event (apps/audit/triggers.py): a trigger
on PostgreSQL (deletion allowed only where the transaction set ``audit.allow_delete``, the
retention task's way) and triggers on SQLite."""

from django.db import migrations

from apps.audit import triggers


def install(apps, schema_editor):
    triggers.install(schema_editor)


def remove(apps, schema_editor):
    triggers.remove(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(install, remove)]
