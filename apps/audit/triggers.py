"""The database's own refusal to change or delete an audit event (installed by
migrations/0002_append_only.py), and the one way past it, ``delete_rows``, for the retention
task, in its own transaction.

PostgreSQL: a row trigger raises on UPDATE, and on DELETE unless the transaction said
``SET LOCAL audit.allow_delete = on``. SQLite (``make run``) has no session settings: its
triggers raise on both, and the retention task drops the delete trigger and creates it again
inside one transaction (SQLite's schema changes are transactional, and its writers take turns),
so no other connection ever sees the table without it. TRUNCATE is left alone (the tests' flush
uses it); the trigger guards the application's connection, not a database owner."""

from django.db import connection

TABLE = "audit_auditevent"
MESSAGE = "audit events are append-only"

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('audit.allow_delete', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '{MESSAGE}: % refused', TG_OP USING ERRCODE = 'restrict_violation';
END;
$$
"""
PG_TRIGGER = f"""
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
"""
PG_REMOVE = [
    f"DROP TRIGGER IF EXISTS audit_event_append_only ON {TABLE}",
    "DROP FUNCTION IF EXISTS audit_event_append_only()",
]

SQLITE_NO_UPDATE = f"""
CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON {TABLE}
BEGIN SELECT RAISE(ABORT, '{MESSAGE}: UPDATE refused'); END
"""
SQLITE_NO_DELETE = f"""
CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON {TABLE}
BEGIN SELECT RAISE(ABORT, '{MESSAGE}: DELETE refused'); END
"""
SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS audit_event_no_update",
    "DROP TRIGGER IF EXISTS audit_event_no_delete",
]


def install(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    statements = {
        "postgresql": [PG_FUNCTION, PG_TRIGGER],
        "sqlite": [SQLITE_NO_UPDATE, SQLITE_NO_DELETE],
    }
    for statement in statements.get(vendor, []):
        schema_editor.execute(statement, params=None)


def remove(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for statement in {"postgresql": PG_REMOVE, "sqlite": SQLITE_REMOVE}.get(vendor, []):
        schema_editor.execute(statement, params=None)


def delete_rows(ids: list[int]) -> int:
    """Delete these events, in the caller's transaction (it must be open: on PostgreSQL the
    permission ends with it; on SQLite the trigger is back before it commits)."""
    if not ids:
        return 0
    vendor = connection.vendor
    placeholders = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        if vendor == "postgresql":
            cursor.execute("SET LOCAL audit.allow_delete = on")
        elif vendor == "sqlite":
            cursor.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
        delete = f"DELETE FROM {TABLE} WHERE id IN ({placeholders})"  # noqa: S608 (constants)
        cursor.execute(delete, ids)
        deleted = cursor.rowcount
        if vendor == "postgresql":
            cursor.execute("SET LOCAL audit.allow_delete = off")
        elif vendor == "sqlite":
            cursor.execute(SQLITE_NO_DELETE)
    return deleted
