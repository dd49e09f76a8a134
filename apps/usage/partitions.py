"""The request table by day: PostgreSQL declarative partitioning, created ahead and dropped whole.

``usage_usagerecord`` is partitioned by RANGE (created_at), one partition a day named
``usage_usagerecord_pYYYYMMDD`` (UTC days), plus a default partition that catches a record
for a day without one (a very late settlement for a day already dropped). Celery beat creates
the next days ahead (``USAGE_PARTITIONS_AHEAD_DAYS``) and drops those older than
``USAGE_RETENTION_DAYS``; dropping a partition is a catalog change, not a DELETE of millions
of rows. The hourly rollups (``UsageHour``) and the ledger are kept forever.

SQLite (``make run``) keeps a plain table: the same retention deletes old rows in batches.
"""

import logging
import re
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

log = logging.getLogger(__name__)

TABLE = "usage_usagerecord"
DEFAULT = f"{TABLE}_default"
NAME = re.compile(rf"^{TABLE}_p(\d{{8}})$")
# The column default that tags each record with the transaction that wrote it.
TXID_DEFAULT = "(pg_current_xact_id()::text::bigint)"


def is_postgres(conn=None) -> bool:
    return (conn or connection).vendor == "postgresql"


def partition_name(day: date) -> str:
    return f"{TABLE}_p{day:%Y%m%d}"


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def is_partitioned(cursor) -> bool:
    cursor.execute(
        "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relname = %s AND n.nspname = current_schema()",
        [TABLE],
    )
    row = cursor.fetchone()
    return row is not None and row[0] == "p"


def partitions(cursor) -> dict[date, str]:
    """The daily partitions that exist, by day."""
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
        [TABLE],
    )
    found = {}
    for (name,) in cursor.fetchall():
        match = NAME.match(name)
        if match:
            found[datetime.strptime(match.group(1), "%Y%m%d").date()] = name
    return found


def convert_to_partitioned(schema_editor=None) -> None:
    """Turn the plain table into a partitioned one with the same columns, indexes, constraints
    and rows (the migration that introduced partitioning runs this once)."""
    conn = schema_editor.connection if schema_editor else connection
    with conn.cursor() as cursor:
        if is_partitioned(cursor):
            return
        old = f"{TABLE}_unpartitioned"
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
            "AND schemaname = current_schema()",
            [TABLE],
        )
        indexes = cursor.fetchall()
        cursor.execute(
            "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass",
            [TABLE],
        )
        constraints = cursor.fetchall()
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {old}")
        for name, contype, _ in constraints:  # names must be free for the new table
            if contype in ("p", "u"):
                cursor.execute(f'ALTER TABLE {old} RENAME CONSTRAINT "{name}" TO "{name}_old"')
        kept = {name for name, contype, _ in constraints if contype in ("p", "u")}
        for name, _ in indexes:
            if name not in kept:
                cursor.execute(f'ALTER INDEX "{name}" RENAME TO "{name}_old"')
        cursor.execute(
            f"CREATE TABLE {TABLE} (LIKE {old} INCLUDING DEFAULTS INCLUDING IDENTITY) "
            "PARTITION BY RANGE (created_at)"
        )
        cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN txid SET DEFAULT {TXID_DEFAULT}")
        # Unique constraints of a partitioned table include its partition key.
        cursor.execute(f"ALTER TABLE {TABLE} ADD PRIMARY KEY (id, created_at)")
        for name, contype, definition in constraints:
            if contype == "u":
                columns = definition.removeprefix("UNIQUE (").removesuffix(")")
                if "created_at" not in columns:
                    columns += ", created_at"
                cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" UNIQUE ({columns})')
            elif contype in ("f", "c"):
                cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" {definition}')
        for name, definition in indexes:
            if name in kept:
                continue
            definition = definition.replace(f" ON {old} ", f" ON {TABLE} ")
            definition = re.sub(r" ON \S+\.\S+ ", f" ON {TABLE} ", definition, count=1)
            cursor.execute(definition)
        cursor.execute(f"CREATE INDEX usage_record_txid ON {TABLE} (txid)")
        cursor.execute(f"CREATE TABLE {DEFAULT} PARTITION OF {TABLE} DEFAULT")
        cursor.execute(f"SELECT min(created_at), max(created_at) FROM {old}")
        first, last = cursor.fetchone()
        today = timezone.now().astimezone(UTC).date()
        start = first.astimezone(UTC).date() if first else today
        end = max(last.astimezone(UTC).date() if last else today, today)
        day = start
        while day <= end + timedelta(days=settings.USAGE_PARTITIONS_AHEAD_DAYS):
            _create(cursor, day)
            day += timedelta(days=1)
        cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {old}")
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
            f"COALESCE((SELECT max(id) FROM {old}), 0) + 1, false)",
            [TABLE],
        )
        cursor.execute(f"DROP TABLE {old}")


def _create(cursor, day: date) -> bool:
    """Create the partition of ``day``, moving in any rows the default partition holds for it
    (created apart, filled, then attached: the parent is never locked for long)."""
    name = partition_name(day)
    cursor.execute("SELECT to_regclass(%s)", [name])
    if cursor.fetchone()[0] is not None:
        return False
    start, end = _bounds(day)
    cursor.execute(f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    cursor.execute(
        f"WITH moved AS (DELETE FROM {DEFAULT} WHERE created_at >= %s AND created_at < %s "
        f"RETURNING *) INSERT INTO {name} SELECT * FROM moved",
        [start, end],
    )
    # A check constraint that matches the bounds spares ATTACH its scan of the new table.
    cursor.execute(
        f"ALTER TABLE {name} ADD CONSTRAINT {name}_bounds "
        "CHECK (created_at >= %s AND created_at < %s)",
        [start, end],
    )
    cursor.execute(
        f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)",
        [start, end],
    )
    cursor.execute(f"ALTER TABLE {name} DROP CONSTRAINT {name}_bounds")
    return True


def partitions_ensure(*, now: datetime | None = None, ahead: int | None = None) -> list[str]:
    """Create the partitions of today and the next ``ahead`` days that do not exist yet."""
    if not is_postgres():
        return []
    today = (now or timezone.now()).astimezone(UTC).date()
    ahead = settings.USAGE_PARTITIONS_AHEAD_DAYS if ahead is None else ahead
    created = []
    with connection.cursor() as cursor:
        if not is_partitioned(cursor):
            return []
        for offset in range(ahead + 1):
            day = today + timedelta(days=offset)
            with transaction.atomic():
                if _create(cursor, day):
                    created.append(partition_name(day))
    return created


class UnsettledPartition(Exception):
    """A partition due for dropping still holds records the rollup has not counted."""


def retention_apply(*, now: datetime | None = None, days: int | None = None) -> dict:
    """Drop whole daily partitions older than the retention (PostgreSQL), and delete old rows
    from the default partition or, on SQLite, from the table, in batches. Never drops a record
    the rollup has not counted yet (its cost is not in the ledger until then)."""
    from apps.usage.models import UsageRecord
    from apps.usage.rollup import cursor_position, position_field, retention_cutoff

    days = settings.USAGE_RETENTION_DAYS if days is None else days
    if days <= 0:
        return {"dropped": [], "deleted": 0}
    cutoff = retention_cutoff(now=now, days=days)
    position = cursor_position()
    dropped, deleted = [], 0
    if is_postgres():
        with connection.cursor() as cursor:
            if is_partitioned(cursor):
                for day, name in sorted(partitions(cursor).items()):
                    if _bounds(day)[1] > cutoff:
                        continue
                    cursor.execute(f"SELECT 1 FROM {name} WHERE txid >= %s LIMIT 1", [position])
                    if cursor.fetchone():
                        log.warning("partition %s not dropped: records not rolled up yet", name)
                        continue
                    with transaction.atomic():
                        # Deferred foreign-key checks of rows written in this transaction
                        # (none outside tests) must run before the table goes.
                        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                        cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {name}")
                        cursor.execute(f"DROP TABLE {name}")
                    dropped.append(name)
    field = position_field()
    old = UsageRecord.objects.filter(created_at__lt=cutoff, **{f"{field}__lt": position})
    while True:  # what is left outside partitions: the default one, or SQLite's table
        ids = list(old.values_list("id", flat=True)[:5000])
        if not ids:
            break
        deleted += UsageRecord.objects.filter(id__in=ids, created_at__lt=cutoff).delete()[0]
    return {"dropped": dropped, "deleted": deleted}
